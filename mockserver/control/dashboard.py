"""The dashboard at /_mock/: one page, no outside assets, that shows the mock's activity live.

It polls the control API every second: the request journal, the images handed out (thumbnails), the
accounts by id and their balances, running jobs, queued faults, and the profiles with their contracts.
Everything it shows comes from the control API, so it shows no secret the API does not.

It is served with a Content-Security-Policy that lets run only its own inline script and style (by their
SHA-256) and reach only its own origin, may not be framed, and is not to be sniffed as anything but HTML.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

DASHBOARD = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")


def inline_hashes(tag: str) -> str:
    """The CSP source list allowing exactly the page's inline <tag> elements."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", DASHBOARD, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() for block in blocks)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {inline_hashes('script')}; style-src {inline_hashes('style')}; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
