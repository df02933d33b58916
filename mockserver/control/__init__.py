"""The control API under /_mock/ (described by contracts/admin.yaml) and the dashboard it serves."""
