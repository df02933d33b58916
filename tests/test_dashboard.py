"""The dashboard at /_mock/ and the control API behind it: accounts, latency, jobs, images, scenarios."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from browser import chromium, needs_chromium
from PIL import Image

from mockserver.broken_connections import broken_connections
from mockserver.dialects.profiles import PROFILES
from mockserver.scenarios import scenarios

KEY = "dashboard-secret-key-123"
ARTEFACTS = Path(__file__).resolve().parent.parent / "artefacts"


def activity(client: httpx.Client) -> None:
    """A little of everything: a Vydra image, a GeminiGen job, two LLM Gateway images, a queued fault."""
    client.post("/api/v1/models/gemini/generate", headers={"Authorization": f"Bearer {KEY}"}, json={"prompt": "a fox"})
    client.post("/uapi/v1/generate_image", headers={"x-api-key": KEY}, data={"prompt": "a sunset", "model": "imagen-4"})
    client.post("/v1/images/generations", headers={"x-api-key": KEY}, json={"prompt": "a cat", "n": 2})
    client.post("/_mock/faults", json={"profile": "llmgateway", "fault": "content-policy", "times": 2})


def test_the_accounts_are_listed_by_id_never_by_key(client):
    activity(client)

    listed = client.get("/_mock/accounts").json()["accounts"]

    assert [a["credits"] for a in listed] == [1000 - 5 - 10 - 28]
    assert KEY not in client.get("/_mock/accounts").text


def test_latency_is_set_per_profile_and_reset_away(client):
    set_to = client.put("/_mock/latency", json={"milliseconds": 40, "profile": "vydra"}).json()

    assert (set_to["milliseconds"]["vydra"], set_to["milliseconds"]["geminigen"]) == (40, 0)
    assert client.put("/_mock/latency", json={"milliseconds": 12}).json()["milliseconds"]["geminigen"] == 12
    assert client.put("/_mock/latency", json={"milliseconds": -1}).status_code == 400
    client.post("/_mock/reset")
    assert set(client.get("/_mock/latency").json()["milliseconds"].values()) == {0}


def test_jobs_show_their_progress(client):
    activity(client)
    (job,) = client.get("/_mock/jobs").json()["jobs"]
    client.post("/_mock/clock", json={"advance_seconds": 60})
    (done,) = client.get("/_mock/jobs").json()["jobs"]

    assert (job["status"], done["status"], done["progress"]) == ("processing", "completed", 100)
    assert job["account"].startswith("acct_")


def test_the_images_handed_out_are_listed_and_served(client):
    activity(client)

    images = client.get("/_mock/images").json()["images"]
    thumbnail = Image.open(__import__("io").BytesIO(client.get(images[0]["thumbnail"]).content))

    assert [i["profile"] for i in images] == ["llmgateway", "llmgateway", "geminigen", "vydra"]
    assert client.get(images[-1]["url"]).headers["content-type"] == "image/png"
    assert max(thumbnail.size) <= 256
    assert client.get("/_mock/images", params={"profile": "vydra"}).json()["images"][0]["prompt"] == "a fox"
    assert client.get("/_mock/images/99999").status_code == 404


def test_the_scenario_catalogue_is_served(client):
    every = client.get("/_mock/scenarios").json()["scenarios"]
    vydra = client.get("/_mock/scenarios", params={"profile": "vydra"}).json()["scenarios"]

    assert len(every) == sum(len(listed) for listed in (scenarios(name) for name in PROFILES))
    assert [s["name"] for s in vydra] == [s.name for s in scenarios("vydra")]
    assert vydra[0]["key"] == {"place": "header", "name": "Authorization", "prefix": "Bearer "}
    assert client.get("/_mock/scenarios", params={"profile": "nope"}).status_code == 400


def test_the_catalogue_serves_the_broken_connections_when_asked(client):
    asked = {"profile": "openai", "broken_connections": "true"}
    listed = client.get("/_mock/scenarios", params=asked).json()["scenarios"]

    broken = listed[len(scenarios("openai")) :]
    assert [s["name"] for s in broken] == [s.name for s in broken_connections("openai")]
    reset = broken[0]
    assert (reset["status"], reset["charged"], reset["fault"]) == (None, 0, "connection-reset")
    assert reset["client"] and reset["known"]
    refused = client.get("/_mock/scenarios", params={**asked, "broken_connections": "yes"})
    assert refused.status_code == 400 and "broken_connections" in refused.json()["error"]


def test_the_dashboard_page_stands_alone(client):
    page = client.get("/_mock/")

    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text), "the page loads something from outside"


def test_the_dashboard_runs_only_its_own_script_and_may_not_be_framed(client):
    headers = client.get("/_mock/").headers
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))

    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]{44}'", policy["script-src"])
    assert policy["connect-src"] == policy["img-src"].split()[0] == "'self'"
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff")


@needs_chromium
def test_the_dashboard_shows_real_activity_in_a_headless_browser(client, server, tmp_path):
    activity(client)
    page = f"{server.url}/_mock/"
    profile = tmp_path / "profile"

    dom = chromium(profile, "--virtual-time-budget=5000", "--dump-dom", page)
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "dashboard.png"
    chromium(profile, "--virtual-time-budget=5000", "--window-size=1300,1000", f"--screenshot={shot}", page)

    for shown in ("/api/v1/models/gemini/generate", "/uapi/v1/generate_image", "processing", "content-policy",
                  "acct_", "957", "vydra · 1024x1024 png", "/_mock/contracts/llmgateway"):  # fmt: skip
        assert shown in dom, f"the dashboard does not show {shown!r}"
    assert dom.count("?thumbnail=true") == 4
    assert KEY not in dom
    assert Image.open(shot).size == (1300, 1000)
