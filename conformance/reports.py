"""The reports a check writes to files: JSON, JUnit XML, and one self-contained HTML page.

Every report is made from the same Report, never holds the API key (exchanges are redacted as they are
recorded, and the written text is scrubbed of the key once more), and shows for each behaviour its
verdict, the documentation behind it and, for a failure, a curl command that repeats the last request.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shlex
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from .runner import Report, Verdict
from .traffic import CLIENT_HEADERS, REDACTED, Exchange

THUMBNAIL_SIDE = 160
SCRUBBED_KEY_LENGTH = 8  # a shorter key could match inside base64 data by chance; redaction already hid it
STATUS_WORDS = {"pass": "passed", "fail": "failed", "error": "error", "skip": "skipped"}


def write(report: Report, *, key: str, key_variable: str, json_path=None, junit_path=None, html_path=None) -> None:
    for path, render in ((json_path, as_json), (junit_path, as_junit), (html_path, as_html)):
        if path:
            text = render(report, key_variable)
            scrub = len(key) >= SCRUBBED_KEY_LENGTH
            Path(path).write_text(text.replace(key, REDACTED) if scrub else text, encoding="utf-8")


def summary(report: Report) -> dict[str, Any]:
    budget = report.budget
    return {
        "profile": report.target.profile,
        "target": str(report.target),
        "seconds": round(report.seconds, 3),
        "counts": {word: report.count(status) for status, word in STATUS_WORDS.items()},
        "failure_kinds": report.failure_kinds(),
        "budget": {"limit": budget.limit, "spent": budget.spent, "unexpected": budget.unexpected},
        "balance": dict(zip(("before", "after"), report.balances, strict=True)) if report.balances else None,
    }


def as_json(report: Report, key_variable: str = "API_KEY") -> str:
    verdicts = [
        {
            "name": v.behaviour.name,
            "summary": v.behaviour.summary,
            "source": v.behaviour.source,
            "status": v.status,
            "kinds": list(v.kinds),
            "detail": v.detail,
            "seconds": round(v.seconds, 3),
            "paid": v.behaviour.paid,
            "reproduce": reproducer(v, key_variable),
            "images": len(v.images),
            "exchanges": [exchange.as_json() for exchange in v.exchanges],
        }
        for v in report.verdicts
    ]
    return json.dumps({**summary(report), "verdicts": verdicts}, indent=2, ensure_ascii=False)


def as_junit(report: Report, key_variable: str = "API_KEY") -> str:
    counts = summary(report)["counts"]
    suite = ElementTree.Element(
        "testsuite",
        name=f"imagegen-mock check {report.target.profile}",
        tests=str(len(report.verdicts)),
        failures=str(counts["failed"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{report.seconds:.3f}",
    )
    for v in report.verdicts:
        case = ElementTree.SubElement(
            suite, "testcase", classname=report.target.profile, name=v.behaviour.name, time=f"{v.seconds:.3f}"
        )
        text = "\n".join(filter(None, [v.detail, f"source: {v.behaviour.source}", reproducer(v, key_variable)]))
        tag = {"fail": "failure", "error": "error", "skip": "skipped"}.get(v.status)
        if tag:
            attributes = {"type": ", ".join(v.kinds)} if v.kinds else {}
            message = (v.detail.splitlines() or [v.status])[0][:300]
            ElementTree.SubElement(case, tag, message=message, **attributes).text = text
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def reproducer(verdict: Verdict, key_variable: str) -> str | None:
    """A curl command repeating the request a failed check names (else its last), the key read from the
    environment."""
    if verdict.status not in ("fail", "error") or not verdict.exchanges:
        return None
    named = [e for e in verdict.exchanges if f"{e.method} {urlsplit(e.url).path} " in verdict.detail]
    return curl((named or verdict.exchanges)[-1], key_variable)


def curl(exchange: Exchange, key_variable: str) -> str:
    def keyed(text: str) -> str:
        # single-quoted words stay literal in a shell, so the key's place leaves the quotes
        return shlex.quote(text).replace(REDACTED, f"'\"${key_variable}\"'")

    words = [f"curl -X {exchange.method} {keyed(exchange.url)}"]
    words += [f"-H {keyed(f'{k}: {v}')}" for k, v in exchange.headers.items() if k.lower() not in CLIENT_HEADERS]
    if exchange.body.startswith("(") and exchange.body.endswith("body)"):
        words.append(f"# the {exchange.body[1:-1]} was not kept")
    elif exchange.body:
        words.append(f"-d {keyed(exchange.body)}")
    return " \\\n  ".join(words)


# The HTML page.

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1b1f24; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } .meta { color: #57606a; margin: 0 0 1.2rem; }
.totals span { display: inline-block; margin-right: 1rem; font-weight: 600; }
section { border: 1px solid #d0d7de; border-radius: 8px; margin: .8rem 0; padding: .7rem 1rem; }
section.fail, section.error { border-left: 6px solid #cf222e; } section.pass { border-left: 6px solid #1a7f37; }
section.skip { border-left: 6px solid #9a6700; }
.verdict { font-weight: 700; text-transform: uppercase; font-size: .8rem; padding: .1rem .45rem; border-radius: 4px; }
.pass .verdict { background: #dafbe1; color: #1a7f37; }
.fail .verdict, .error .verdict { background: #ffebe9; color: #cf222e; }
.skip .verdict { background: #fff8c5; color: #9a6700; }
.kinds { color: #cf222e; font-family: ui-monospace, monospace; }
.name { font-family: ui-monospace, monospace; font-weight: 600; margin-left: .5rem; }
.source { color: #57606a; font-size: .9rem; } pre { background: #f6f8fa; padding: .6rem; overflow-x: auto;
white-space: pre-wrap; word-break: break-word; font-size: .85rem; border-radius: 6px; }
.thumbs img { height: 96px; margin: .3rem .3rem 0 0; border: 1px solid #d0d7de; border-radius: 4px; }
details summary { cursor: pointer; color: #0969da; margin-top: .4rem; }
"""


def as_html(report: Report, key_variable: str = "API_KEY") -> str:
    counts = summary(report)["counts"]
    budget = report.budget
    spent = f"{budget.spent} paid request(s)" + (f" of a budget of {budget.limit}" if budget.limit is not None else "")
    totals = "".join(f"<span>{n} {word}</span>" for word, n in counts.items() if n)
    sections = "\n".join(section(v, key_variable) for v in report.verdicts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>imagegen-mock check: {esc(report.target.profile)}</title><style>{STYLE}</style></head>
<body>
<h1>imagegen-mock check: {esc(report.target.profile)}</h1>
<p class="meta">against {esc(str(report.target))} · {report.seconds:.1f} s · {esc(spent)}</p>
<p class="totals">{totals}</p>
{sections}
</body></html>
"""


def section(v: Verdict, key_variable: str) -> str:
    parts = [
        f'<div><span class="verdict">{esc(STATUS_WORDS[v.status])}</span><span class="name">{esc(v.behaviour.name)}'
        f"</span> {esc(v.behaviour.summary)}{kinds_label(v)}</div>",
        f'<div class="source">{esc(v.behaviour.source)} · {v.seconds:.2f} s</div>',
    ]
    if v.detail:
        parts.append(f"<pre>{esc(v.detail)}</pre>")
    command = reproducer(v, key_variable)
    if command:
        parts.append(f"<div>Reproduce (the key read from ${esc(key_variable)}):</div><pre>{esc(command)}</pre>")
    thumbs = [thumbnail(image) for image in v.images]
    if any(thumbs):
        parts.append('<div class="thumbs">' + "".join(f'<img alt="an image received" src="{t}">' for t in thumbs if t))
        parts.append("</div>")
    if v.exchanges:
        rows = "\n".join(exchange_line(e) for e in v.exchanges[:50])
        parts.append(f"<details><summary>{len(v.exchanges)} request(s)</summary><pre>{rows}</pre></details>")
    return f'<section class="{v.status}">' + "\n".join(parts) + "</section>"


def kinds_label(v: Verdict) -> str:
    return f' <span class="kinds">[{esc(", ".join(v.kinds))}]</span>' if v.kinds else ""


def exchange_line(e: Exchange) -> str:
    billable = " · billable" if e.billable else ""
    return f"{esc(e.method)} {esc(e.url)} → {e.status} ({e.seconds * 1000:.0f} ms){billable}"


def thumbnail(content: bytes) -> str | None:
    """A small PNG of an image, as a data URL the page carries itself."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            out = io.BytesIO()
            image.convert("RGBA").save(out, "PNG")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def esc(text: str) -> str:
    return html.escape(text, quote=True)
