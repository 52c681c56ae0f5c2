"""Translation of a pydantic ``ValidationError`` into one :class:`~monitor.errors.ConfigError` line."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.redact import redact
from monitor.settings.base import choices, expected, is_tuple, model_class, strip_optional
from monitor.settings.root import Settings

_TYPE_ERRORS = {
    "bool_type",
    "bool_parsing",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "string_type",
    "path_type",
    "tuple_type",
    "list_type",
    "dict_type",
    "model_type",
    "model_attributes_type",
    "none_required",
}
_BOUNDS = {"ge": "of at least", "gt": "above", "le": "of at most", "lt": "below"}


def describe(exc: ValidationError, where: str, origins: Mapping[tuple[str, str], tuple[str, str]]) -> str:
    """One line for the first error: file (or variable), table, key, value, and the fix.

    URLs in the line are redacted (:func:`monitor.redact.redact`).
    """
    errors = exc.errors(include_url=False)
    text = _describe_one(errors[0], where, origins)
    if len(errors) > 1:
        more = len(errors) - 1
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return redact(text)  # a URL value (database, webhook, feed) may carry a password or token


def _describe_one(err: ErrorDetails, where: str, origins: Mapping[tuple[str, str], tuple[str, str]]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    place = _place(loc, leaf=kind in _TYPE_ERRORS)
    table, key = place.table, place.key
    subject = f"{table} {key}".strip()
    shown = f" = {err.get('input')!r}"
    origin = origins.get((str(loc[0]), str(loc[1]))) if len(loc) >= 2 else None
    if origin is not None:
        where, subject, shown = "environment", f"{origin[0]}={origin[1]!r} ({subject})", ""

    if kind == "extra_forbidden":
        if not table:
            what = f"section [{key}]" if isinstance(err.get("input"), dict) else f"key {key}"
            return f"{where}: unknown {what}; known sections: {section_names()}"
        known = ", ".join(place.model.model_fields)
        return f"{where}: unknown key {table} {key}; known keys: {known}"
    if kind == "unknown_key":
        return f"{where}: unknown key {table} {ctx['key']}; known keys: {ctx['known']}"
    if kind == "missing":
        return f"{where}: missing key {subject}; add `{key} = ...` to {table}"
    if kind == "literal_error":
        allowed = _literal_choices(place.annotation, ctx)
        return f"{where}: {subject}{shown} is not allowed; use one of {allowed}"
    if kind in _TYPE_ERRORS:
        return f"{where}: {subject}{shown} has the wrong type; use {expected(place.annotation)}"
    if kind == "finite_number":
        return f"{where}: {subject}{shown} is not a finite number; use an ordinary number (no nan or inf)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = _range(place.metadata, ctx)
        return f"{where}: {subject}{shown} is out of range; use a value {bounds}"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", err["msg"]))
        if key:
            return f"{where}: {subject}{shown} {message}"
        return f"{where}: {f'{table} ' if table else ''}{message}"
    return f"{where}: {subject}{shown}: {err['msg']}"


class _Place(NamedTuple):
    """Where an error location is in TOML terms."""

    table: str  # "[scoring]", "[[sources]] #1", "" for the top level
    key: str  # "precision", "goemotions.sadness", "channels[2]", "" for the table itself
    model: type[BaseModel]  # the model of ``table``
    annotation: Any  # the type of the value at the location (None for a table)
    metadata: list[Any]  # its constraints (Ge, Le, ...)


def _place(loc: tuple[int | str, ...], *, leaf: bool = False) -> _Place:
    """Split an error location into table label, key, model and the value's type.

    ``leaf`` keeps the last part as a key even when it names a table (``rules = 3``).
    """
    model: type[BaseModel] = Settings
    names: list[str] = []
    table = ""
    rest = list(loc)
    while rest and isinstance(rest[0], str) and rest[0] in model.model_fields:
        if leaf and len(rest) == 1:
            break
        annotation = model.model_fields[rest[0]].annotation
        sub = model_class(annotation)
        item = model_class(typing.get_args(annotation)[0]) if is_tuple(annotation) else None
        if sub is not None:
            names.append(str(rest.pop(0)))
            table, model = f"[{'.'.join(names)}]", sub
        elif item is not None:
            names.append(str(rest.pop(0)))
            table = f"[[{'.'.join(names)}]]"
            if not rest or not isinstance(rest[0], int):
                return _Place(table, _key_text(tuple(rest)), item, None, [])
            table, model = f"{table} #{int(rest.pop(0)) + 1}", item
        else:
            break
    if not rest:
        return _Place(table, "", model, None, [])
    info = model.model_fields.get(str(rest[0]))
    if info is None:
        return _Place(table, _key_text(tuple(rest)), model, None, [])
    annotation = _descend(info.annotation, tuple(rest[1:]))
    metadata = list(info.metadata) if len(rest) == 1 else []  # else the violated bound
    return _Place(table, _key_text(tuple(rest)), model, annotation, metadata)


def _key_text(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text


def _descend(annotation: Any, parts: tuple[int | str, ...]) -> Any:
    """The annotation of the element ``parts`` inside a list or table of type ``annotation``."""
    for part in parts:
        base = strip_optional(annotation)
        args = typing.get_args(base)
        if typing.get_origin(base) is tuple and args:
            annotation = args[0]
        elif typing.get_origin(base) is dict and args:
            annotation = args[0] if part == "[key]" else args[1]
    return annotation


def _literal_choices(annotation: Any, ctx: Mapping[str, Any]) -> str:
    base = strip_optional(annotation)
    if typing.get_origin(base) is Literal:
        return choices(typing.get_args(base))
    return str(ctx.get("expected", "a documented value"))


def _range(metadata: list[Any], ctx: Mapping[str, Any]) -> str:
    """``between 0 and 1``, ``at least 1``, ... from the field's bounds (or the one violated)."""
    bounds: dict[str, Any] = {}
    for meta in metadata:
        for name, cls in (
            ("ge", annotated_types.Ge),
            ("gt", annotated_types.Gt),
            ("le", annotated_types.Le),
            ("lt", annotated_types.Lt),
        ):
            if isinstance(meta, cls):
                bounds[name] = getattr(meta, name)
    bounds = bounds or {k: v for k, v in ctx.items() if k in _BOUNDS}
    if "ge" in bounds and "le" in bounds:
        return f"between {bounds['ge']:g} and {bounds['le']:g}"
    return " and ".join(f"{_BOUNDS[k]} {v:g}" for k, v in bounds.items())


def section_names() -> str:
    return ", ".join(k for k in Settings.model_fields if k not in ("path", "base_dir"))
