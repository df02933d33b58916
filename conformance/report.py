"""The readable summary of a check: a line per behaviour as it finishes, with progress, then the totals."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from typing import TextIO

from .runner import Report, Verdict

LABELS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "error": "ERROR"}


def header(profile: str, target: object, budget: int | None = None) -> str:
    spending = "" if budget is None else f" (budget: {budget} paid request(s))"
    return f"imagegen-mock check: {profile} against {target}{spending}"


def verdict_line(verdict: Verdict) -> str:
    b = verdict.behaviour
    line = f"  {LABELS[verdict.status]:<5}  {b.name:<30} {b.summary}"
    if verdict.kinds:
        line += f" [{', '.join(verdict.kinds)}]"
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
    kinds = report.failure_kinds()
    if kinds:
        counts += " (" + ", ".join(f"{kind}: {n}" for kind, n in kinds.items()) + ")"
    budget = report.budget
    spent = f"; {budget.spent} paid request(s) sent" if budget.spent or budget.limit is not None else ""
    if budget.unexpected:
        spent += f", {budget.unexpected} of them meant to be free but answered as if billed"
    if report.balances:
        before, after = report.balances
        spent += f"; the key's balance went from {before} to {after} credits"
    return f"{counts} in {report.seconds:.1f}s{spent}"


def progress(total: int, out: TextIO) -> Callable[[Verdict], None]:
    """Prints each verdict as it comes, numbered: [3/19]."""
    counter = itertools.count(1)

    def show(verdict: Verdict) -> None:
        print(f"[{next(counter)}/{total}]" + verdict_line(verdict), file=out, flush=True)

    return show
