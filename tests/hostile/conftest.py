"""Hostile-input tests: one module per class of attack, built from small files and loopback servers.

Each test asserts the outcome an operator relies on: counts that add up, the alert that still
fires, the file not overwritten, no traceback, bounded memory and time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EMOMON = Path(sys.executable).with_name("emomon")


def copy_examples(site: Path) -> Path:
    """Copy the repository's examples and config.toml into ``site`` (the model path pointing at
    the repository's model, as .ci/run does); return ``site``."""
    shutil.copytree(REPO / "examples", site / "examples")
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    config = config.replace('path = "models/', f'path = "{REPO}/models/')
    (site / "config.toml").write_text(config, encoding="utf-8")
    return site


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A fresh copy of the examples and config.toml in tmp_path/site (see copy_examples)."""
    return copy_examples(tmp_path / "site")


def config_here(cwd: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
    """Give a command run in ``cwd`` a config: unless ``args`` or the environment name one, a
    ``config.toml`` with every setting at its default is written there when it has none (every
    command but ``emomon init`` needs a config; relative paths then start at ``cwd``)."""
    named = "--config" in args or "EMOMON_CONFIG" in {**os.environ, **(env or {})}
    if not named and not (cwd / "config.toml").exists():
        (cwd / "config.toml").write_text("# every setting at its default\n", encoding="utf-8")


@pytest.fixture(scope="session")
def emomon() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``emomon`` command in a directory: ``emomon(cwd, "run", "--json")``;
    ``env`` adds environment variables. A directory without a config gets one of defaults
    (:func:`config_here`)."""

    def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        config_here(cwd, args, env)
        return subprocess.run(
            [str(EMOMON), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, **(env or {})},
        )

    return run


@pytest.fixture(scope="session")
def make_site() -> Callable[[Path], Path]:
    """:func:`copy_examples`, for tests that need more than one copy."""
    return copy_examples
