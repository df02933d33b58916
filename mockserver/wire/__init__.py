"""What any HTTP message the mock reads or writes needs: JSON in and out, where API keys are and which
names are secret, and which hosts are this machine."""
