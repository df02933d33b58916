"""The conformance kit: checks a server (the mock, or a real endpoint) against a profile's contract
and its documented behaviour.

The modules whose checks assert say PYTEST_DONT_REWRITE: pytest rewrites the asserts of every module of
a package that registers a plugin, as this one does, and would then explain each failed check in its own
words, not the check's message (comparing two images' bytes to explain one takes it minutes). A check
reads the same under pytest as from `imagegen-mock check`.
"""

from .runner import Report, run_check
from .target import Target

__all__ = ["Report", "Target", "run_check"]
