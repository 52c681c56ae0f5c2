"""The documentation: generated pages current, every command and setting documented, links that resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from monitor import docs

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs").glob("*.md"))


def test_generated_pages_are_current() -> None:
    assert docs.stale(REPO / "docs") == [], "docs are out of date: run python -m monitor.docs"


def test_the_check_command_passes_on_the_committed_pages() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor.docs", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_the_check_names_a_stale_page(tmp_path: Path) -> None:
    for page in PAGES:
        (tmp_path / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    cli_md = tmp_path / "cli.md"
    cli_md.write_text(
        cli_md.read_text(encoding="utf-8").replace("Manage the database schema.", "old help"), encoding="utf-8"
    )
    assert docs.stale(tmp_path) == ["cli.md"]
    done = subprocess.run(
        [sys.executable, "-m", "monitor.docs", "--check", "--docs", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1 and "cli.md is out of date: run python -m monitor.docs" in done.stderr
    assert "Traceback" not in done.stderr
    assert docs.main(["--docs", str(tmp_path)]) == 0 and docs.stale(tmp_path) == []


COMMANDS = list(docs.commands())


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(("emomon", *p)) for p, _ in COMMANDS])
def test_every_command_and_group_has_help_text(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and command.get_short_help_str(limit=200).strip(), f"emomon {' '.join(path)} needs help text"
    assert f"### {' '.join(('emomon', *path))}\n" in (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_packaged_default_config() -> None:
    assert docs.undocumented() == []


def test_every_module_has_a_docstring_for_the_module_list() -> None:
    missing = [name for name, doc in docs.modules() if not doc]
    assert not missing, f"modules without a docstring: {missing}"


def test_readme_stays_short_and_links_into_docs() -> None:
    readme = REPO / "README.md"
    assert readme.stat().st_size <= 8 * 1024
    text = readme.read_text(encoding="utf-8")
    for page in ("cli.md", "configuration.md", "operations.md", "architecture.md", "performance.md"):
        assert f"(docs/{page})" in text


@pytest.mark.parametrize("page", [REPO / "README.md", *PAGES], ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, fragment = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{page.name}: link to missing {target}"
        if fragment and resolved.suffix == ".md":
            headings = re.findall(
                r"^#+ (.+?)\s*$",
                re.sub(r"```.*?```", "", resolved.read_text(encoding="utf-8"), flags=re.DOTALL),
                flags=re.MULTILINE,
            )
            assert fragment in {docs.anchor(h) for h in headings}, f"{page.name}: no heading for {target}"
