"""The HTML report in a real headless Chromium (Debian's package): no console errors, every
chart has its axis labels, and the page renders to a screenshot.

Skipped, with the reason, only where no chromium binary is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_seed import DRIFT, seed

from monitor.cli import cli

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium (.ci/run does)")


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with console messages logged to stderr (no network needed)."""
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=2000",
        *args,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp)}, check=True
    )


def console_errors(stderr: str) -> list[str]:
    """Console messages and failed loads from Chromium's log.

    Headless Chromium logs every console message as ``INFO:CONSOLE`` whatever its level; the
    report has no scripts, so any console message at all is an error here.
    """
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line or "Failed to load resource" in line or "net::ERR_" in line
    ]


class Charts(HTMLParser):
    """Collect each ``svg.chart`` with the classes of the text elements inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, object]] = []
        self._in: dict[str, object] | None = None
        self._cls: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "svg" and "chart" in classes:
            self._in = {"time": "time" in classes, "label": a.get("aria-label"), "texts": []}
            self.charts.append(self._in)
        elif tag == "text" and self._in is not None:
            self._cls = " ".join(classes)

    def handle_data(self, data: str) -> None:
        if self._in is not None and self._cls is not None and data.strip():
            self._in["texts"].append((self._cls, data.strip()))  # type: ignore[union-attr]

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self._cls = None
        elif tag == "svg":
            self._in = None


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    cfg = seed(tmp)
    runner = CliRunner()
    for args in (
        ["alerts", "run"],
        ["report", "--format", "html", "--output", str(tmp / "report.html")],
        ["author", DRIFT, "--format", "html", "--output", str(tmp / "author.html")],
    ):
        result = runner.invoke(cli, ["--config", str(cfg), *args])
        assert result.exit_code == 0, result.output
    return tmp / "report.html"


def test_the_console_check_catches_an_error(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><script>console.error('broken chart')</script>")
    assert console_errors(chromium(tmp_path, "--dump-dom", page.as_uri()).stderr)


@pytest.mark.parametrize("name", ["report.html", "author.html"])
def test_page_loads_without_console_errors_and_every_chart_has_axis_labels(report_page: Path, name: str) -> None:
    page = report_page.parent / name
    run = chromium(page.parent, "--dump-dom", page.as_uri())
    assert console_errors(run.stderr) == []
    parser = Charts()
    parser.feed(run.stdout)  # the DOM as Chromium built it
    assert len(parser.charts) >= 2
    for chart in parser.charts:
        classes = [c for c, _ in chart["texts"]]  # type: ignore[union-attr]
        assert "axis-title x-title" in classes, chart["label"]
        assert "tick x-tick" in classes, chart["label"]
        if chart["time"]:
            assert "axis-title y-title" in classes and "tick y-tick" in classes, chart["label"]
            dates = [t for c, t in chart["texts"] if c == "tick x-tick"]  # type: ignore[union-attr]
            assert any(t[:2].isdigit() for t in dates), dates  # "01 Mar"-style date ticks


def test_page_renders_to_a_screenshot(report_page: Path) -> None:
    shot = report_page.parent / "report.png"
    chromium(report_page.parent, "--window-size=1100,2400", f"--screenshot={shot}", report_page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
