"""The conformance kit: checks a server (the mock, or a real endpoint) against a profile's contract
and its documented behaviour."""

from .runner import Report, run_check
from .target import Target

__all__ = ["Report", "Target", "run_check"]
