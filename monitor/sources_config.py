"""Add and remove ``[[sources]]`` entries in a config file, keeping everything else as written."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from monitor.config import COLUMN_KEYS, SOURCE_KINDS
from monitor.errors import ConfigError

_TABLE_HEADER = re.compile(r"^\s*\[")


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def add_source(path: Path, *, name: str, kind: str, location: str, columns: dict[str, str]) -> None:
    """Append a ``[[sources]]`` table to the config file.

    Raises:
        ConfigError: The name is taken, or the kind or a column key is unknown.
    """
    text = path.read_text(encoding="utf-8")
    existing = tomllib.loads(text).get("sources", [])
    if any(isinstance(s, dict) and s.get("name") == name for s in existing):
        raise ConfigError(f"source {name!r} already exists in {str(path)!r}: pick another name or remove it first")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    for key in columns:
        if key not in COLUMN_KEYS:
            raise ConfigError(f"column key {key!r} is not one of {', '.join(COLUMN_KEYS)}")
    lines = ["", "[[sources]]", f"name = {_toml_str(name)}", f"kind = {_toml_str(kind)}",
             f"location = {_toml_str(location)}"]
    if columns:
        inner = ", ".join(f"{k} = {_toml_str(v)}" for k, v in columns.items())
        lines.append(f"columns = {{ {inner} }}")
    lines.append("enabled = true")
    if text and not text.endswith("\n"):
        text += "\n"
    new_text = text + "\n".join(lines) + "\n"
    tomllib.loads(new_text)  # never write a file we cannot read back
    path.write_text(new_text, encoding="utf-8")


def remove_source(path: Path, name: str) -> None:
    """Delete the ``[[sources]]`` table called ``name`` (and its comment lines just above it).

    Raises:
        ConfigError: No source has that name.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[sources]]"]
    for start in starts:
        end = start + 1
        while end < len(lines) and not _TABLE_HEADER.match(lines[end]):
            end += 1
        block = "".join(lines[start:end])
        parsed = tomllib.loads(block).get("sources", [{}])[0]
        if parsed.get("name") != name:
            continue
        # keep comments that introduce the *next* table; drop trailing ones of this block
        while end - 1 > start and lines[end - 1].lstrip().startswith("#"):
            end -= 1
        top = start
        while top > 0 and lines[top - 1].lstrip().startswith("#"):
            top -= 1
        new_lines = lines[:top] + lines[end:]
        new_text = "".join(new_lines)
        tomllib.loads(new_text)
        path.write_text(new_text, encoding="utf-8")
        return
    raise ConfigError(f"no source named {name!r} in {str(path)!r}: see `emomon sources list`")
