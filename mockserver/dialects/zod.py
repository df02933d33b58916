"""Validation in the words of zod 3, the TypeScript validator LLM Gateway checks requests with
(apps/gateway/src/images/images.ts): each rule gives zod's message for what is wrong with a value, or None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rule = Callable[[Any], str | None]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def text(min_length: int = 0) -> Rule:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"Expected string, received {type_name(value)}"
        if len(value) < min_length:
            return f"String must contain at least {min_length} character(s)"
        return None

    return check


def whole(low: int, high: int) -> Rule:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"Expected number, received {type_name(value)}"
        if isinstance(value, float) and not value.is_integer():
            return "Expected integer, received float"
        if value < low:
            return f"Number must be greater than or equal to {low}"
        if value > high:
            return f"Number must be less than or equal to {high}"
        return None

    return check


def one_of(*choices: str) -> Rule:
    expected = " | ".join(f"'{choice}'" for choice in choices)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"Expected {expected}, received {type_name(value)}"
        if value not in choices:
            return f"Invalid enum value. Expected {expected}, received '{value}'"
        return None

    return check


def literal(expected: str) -> Rule:
    return lambda value: None if value == expected else f'Invalid literal value, expected "{expected}"'


def array(low: int, high: int) -> Rule:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"Expected array, received {type_name(value)}"
        if len(value) < low:
            return f"Array must contain at least {low} element(s)"
        if len(value) > high:
            return f"Array must contain at most {high} element(s)"
        return None

    return check
