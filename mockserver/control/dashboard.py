"""The dashboard at /_mock/: one page, no outside assets, that shows the mock's activity live.

It polls the control API every second: the request journal, the images handed out (thumbnails), the
accounts by id and their balances, running jobs, queued faults, and the profiles with their contracts.
Everything it shows comes from the control API, so it shows no secret the API does not.
"""

from __future__ import annotations

from importlib.resources import files

DASHBOARD = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")
