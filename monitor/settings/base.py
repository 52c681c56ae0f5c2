"""Shared pieces: the strict ``Table`` base, value types, and helpers on annotations."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ColumnKey = Literal["id", "text", "author", "created_at", "url", "language"]
Severity = Literal["low", "medium", "high"]
ChannelName = Literal["terminal", "file", "webhook", "email"]
Combine = Literal["max", "mean"]

COLUMN_KEYS: tuple[str, ...] = typing.get_args(ColumnKey)

# The tables are strict: no "20" for a number, no 1 for a bool. Lists and paths set
# strict=False, so TOML arrays and strings still become tuples and paths.
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]


class Table(BaseModel):
    """Base of every TOML table: frozen, unknown keys forbidden, strict types, finite floats."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True)


def choices(values: tuple[Any, ...]) -> str:
    """``'a', 'b'``: the values as a readable list."""
    return ", ".join(repr(v) for v in values)


def strip_optional(annotation: Any) -> Any:
    """``annotation`` without ``| None`` and ``Annotated[...]``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    if typing.get_origin(annotation) is Annotated:
        return strip_optional(args[0])
    return annotation


def model_class(annotation: Any) -> type[BaseModel] | None:
    """The model class ``annotation`` names, if it names one."""
    base = strip_optional(annotation)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return base
    return None


def is_tuple(annotation: Any) -> bool:
    """True for ``tuple[...]`` annotations (TOML arrays)."""
    return typing.get_origin(strip_optional(annotation)) is tuple


def expected(annotation: Any) -> str:
    """What to write instead, in TOML words."""
    base = strip_optional(annotation)
    origin = typing.get_origin(base)
    args = typing.get_args(base)
    if base is bool:
        return "true or false"
    if base is int:
        return "a whole number"
    if base is float:
        return "a number"
    if base is str:
        return "a quoted string"
    if base is Path:
        return "a quoted path"
    if origin is Literal:
        return f"one of {choices(args)}"
    if origin is tuple and args and model_class(args[0]) is not None:
        return "[[...]] tables, one per entry"
    if origin is tuple:
        item = strip_optional(args[0]) if args else str
        if typing.get_origin(item) is Literal:
            return f"a list of {choices(typing.get_args(item))}"
        return 'a list of quoted strings, e.g. ["a", "b"]'
    if origin is dict:
        kind = "numbers" if strip_optional(args[1]) is float else "quoted strings"
        return f"a table of {kind}, e.g. {{ key = ... }}"
    if model_class(base) is not None:
        return "a table"
    return "a value of the documented type"
