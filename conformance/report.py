"""The readable summary of a check: a line per behaviour as it finishes, then the totals."""

from __future__ import annotations

import textwrap
from typing import TextIO

from .runner import Report, Verdict

LABELS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "error": "ERROR"}


def header(profile: str, target: object) -> str:
    return f"imagegen-mock check: {profile} against {target}"


def verdict_line(verdict: Verdict) -> str:
    b = verdict.behaviour
    line = f"  {LABELS[verdict.status]:<5}  {b.name:<30} {b.summary}"
    if verdict.status in ("fail", "error"):
        line += "\n" + textwrap.indent(f"{verdict.detail}\nsource: {b.source}", " " * 9)
    elif verdict.detail:
        line += "\n" + textwrap.indent(verdict.detail, " " * 9)
    return line


def totals(report: Report) -> str:
    counts = ", ".join(
        f"{report.count(s)} {word}"
        for s, word in (("pass", "passed"), ("fail", "failed"), ("error", "errors"), ("skip", "skipped"))
        if report.count(s)
    )
    return f"{counts} in {report.seconds:.1f}s"


def print_verdict(verdict: Verdict, out: TextIO) -> None:
    print(verdict_line(verdict), file=out, flush=True)
