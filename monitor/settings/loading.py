"""Loading: the TOML file, the ``EMOMON_*`` environment overlay, and :func:`load_settings`."""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from monitor.errors import ConfigError
from monitor.settings.base import expected, model_class, strip_optional
from monitor.settings.errors import describe, section_names
from monitor.settings.root import Settings

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_ALIASES = {"EMOMON_PSEUDONYM_SALT": ("privacy", "pseudonym_salt")}


def env_name(section: str, key: str) -> str:
    """``EMOMON_<SECTION>_<KEY>``: the variable that sets a single key of a top-level section."""
    return f"EMOMON_{section}_{key}".upper()


def env_aliases(section: str, key: str) -> tuple[str, ...]:
    """Other variables that set the same key (``EMOMON_PSEUDONYM_SALT`` for ``[privacy] pseudonym_salt``)."""
    return tuple(var for var, place in _ALIASES.items() if place == (section, key))


class EnvOverlay:
    """``EMOMON_<SECTION>_<KEY>`` variables of a given mapping, as nested typed values.

    Only keys of the top-level sections are read (not sub-tables such as ``[alerts.rules]``);
    other ``EMOMON_*`` variables are ignored. ``origins`` maps ``(section, key)`` to the
    variable and its text, so errors can name the variable rather than the file.

    Raises (when called):
        ConfigError: A value does not parse as the key's type, or a variable names a table.
    """

    def __init__(self, settings_cls: type[BaseModel], env: Mapping[str, str]) -> None:
        self.settings_cls = settings_cls
        self.env = env
        self.origins: dict[tuple[str, str], tuple[str, str]] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The ``{key: value}`` overrides of section ``field_name`` (None when there are none)."""
        section = model_class(field.annotation)
        if section is None:
            return None, field_name, False
        found: dict[str, Any] = {}
        for var, (sec, key) in _ALIASES.items():
            if sec == field_name and self.env.get(var):
                found[key] = self._value(var, sec, key, section.model_fields[key])
        for key, info in section.model_fields.items():
            var = env_name(field_name, key)
            if var not in self.env:
                continue
            if model_class(info.annotation) is not None:
                raise ConfigError(
                    f"environment: {var} names the table [{field_name}.{key}]; only single "
                    "keys can be set from the environment, set the others in the config file"
                )
            found[key] = self._value(var, field_name, key, info)
        return (found or None), field_name, True

    def __call__(self) -> dict[str, Any]:
        """``{section: {key: value}}`` for every section with an override."""
        out: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(info, name)
            if value is not None:
                out[name] = value
        return out

    def _value(self, var: str, section: str, key: str, info: FieldInfo) -> Any:
        raw = self.env[var]
        self.origins[(section, key)] = (var, raw)
        base = strip_optional(info.annotation)
        try:
            if base is bool:
                if raw.strip().lower() in _TRUE:
                    return True
                if raw.strip().lower() in _FALSE:
                    return False
                raise ValueError(raw)
            if base is int:
                return int(raw)
            if base is float:
                return float(raw)
        except ValueError as exc:
            example = "true" if base is bool else info.get_default(call_default_factory=True)
            raise ConfigError(
                f"environment: {var}={raw!r} ([{section}] {key}) is not {expected(base)}; set e.g. {var}={example}"
            ) from exc
        if typing.get_origin(base) is tuple:
            return [part.strip() for part in raw.split(",") if part.strip()]
        return raw


#: The config file looked for in the working directory.
LOCAL_CONFIG = Path("config.toml")


def user_config(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/emomon/config.toml``; ``~/.config`` when the variable is unset, empty or
    relative (as the XDG base directory specification says)."""
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "emomon" / "config.toml"


def config_places(env: Mapping[str, str]) -> tuple[Path, Path]:
    """Where a config file is looked for when none is named, in order: ``./config.toml``, then
    :func:`user_config`."""
    return LOCAL_CONFIG, user_config(env)


def find_config(env: Mapping[str, str]) -> Path | None:
    """The first of :func:`config_places` that is a file, or None."""
    return next((path for path in config_places(env) if path.is_file()), None)


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Read, override and validate settings.

    Args:
        path: The TOML file; None uses the built-in defaults relative to the working directory.
        env: Environment variables (only ``EMOMON_*`` are looked at).

    Raises:
        ConfigError: The file is missing, unreadable or not TOML, or a key or value is invalid.
    """
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    where = "settings"
    if path is not None:
        where = str(path)
        # Not resolved: a config reached through a symlink keeps its own directory as base.
        path = Path(os.path.abspath(Path(path).expanduser()))
        data = _read_toml(path, where)
        base_dir = path.parent
    for key in ("path", "base_dir"):
        if key in data:
            raise ConfigError(f"{where}: unknown section [{key}]; known sections: {section_names()}")
    overlay = EnvOverlay(Settings, env)
    merged = _merge(data, overlay())
    try:
        return Settings.model_validate({**merged, "path": path, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe(exc, where, overlay.origins)) from exc


def _read_toml(path: Path, where: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {str(path)!r} not found: name another config file or set EMOMON_CONFIG", argument="config"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = text.count("\n") + 1
        found = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if found:
            line = int(found.group(1))
        message = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", message)
        raise ConfigError(f"{where}:{line}: not valid TOML: {message}; fix the syntax on that line") from exc


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
