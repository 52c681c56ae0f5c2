"""The HTML report in a real headless Chromium (Debian's package): no console errors, every
chart has its axis labels, and the page renders to a screenshot; on a generated eight-year
archive, tick labels and legend items never overlap as the browser lays them out, and each
chart keys exactly the lines and markers it draws.

Skipped, with the reason, only where no chromium binary is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import html
import json
import os
import re
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


# --- the charts on a generated eight-year archive (tests/report/archive.py) ------------------

MEASURE = """<script>
const out = [];
for (const svg of document.querySelectorAll("svg.chart")) {
  const rows = {};
  for (const t of svg.querySelectorAll("text.x-tick")) {
    const b = t.getBBox();
    (rows[Math.round(b.y)] = rows[Math.round(b.y)] || []).push([b.x, b.x + b.width, t.textContent]);
  }
  const legend = [...svg.querySelectorAll("g.legend > g")].map((g) => {
    const b = g.getBBox();
    return [b.x, b.x + b.width, g.textContent];
  });
  out.push({label: svg.getAttribute("aria-label"), width: svg.width.baseVal.value, rows: Object.values(rows), legend});
}
const pre = document.createElement("pre");
pre.id = "layout";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@pytest.fixture(scope="module")
def archive_pages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from archive import generate, render

    return render(generate(tmp_path_factory.mktemp("archive")))


def measured(page: Path) -> list[dict[str, object]]:
    """Each chart's tick-label rows and legend items as Chromium lays them out (a copy of the
    page with a measuring script; the page itself has none)."""
    probe = page.with_name(page.stem + ".probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    run = chromium(page.parent, "--dump-dom", probe.as_uri())
    assert console_errors(run.stderr) == []
    found = re.search(r'<pre id="layout">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))  # type: ignore[no-any-return]


def test_archive_pages_load_without_console_errors_and_key_only_what_they_draw(archive_pages: list[Path]) -> None:
    for page in archive_pages:
        run = chromium(page.parent, "--dump-dom", page.as_uri())
        assert console_errors(run.stderr) == [], page.name
        svgs = re.findall(r"<svg.*?</svg>", run.stdout, re.S)
        assert svgs, page.name
        for svg in svgs:
            for kind, drawn in (("threshold", 'class="threshold-line"'), ("baseline", 'class="baseline-line"')):
                assert (f"key-{kind}" in svg) is (drawn in svg), (page.name, kind)
            assert ('class="key key-alert"' in svg) is ('class="alert"' in svg), page.name
    from archive import DECADE, posts_plan

    decade = next(p for p in archive_pages if p.name == f"{DECADE}.html").read_text(encoding="utf-8")
    assert decade.count('class="post" data-post=') == sum(1 for p in posts_plan() if p[0] == DECADE)  # every post
    assert 'class="fired"' in decade and "monthly mean" in decade and 'class="threshold-line"' in decade


def test_archive_tick_labels_and_legends_never_overlap_in_the_browser(archive_pages: list[Path]) -> None:
    charts_seen = 0
    for page in archive_pages:
        for chart in measured(page):
            charts_seen += 1
            width = float(chart["width"])  # type: ignore[arg-type]
            rows = chart["rows"]
            assert rows, chart["label"]
            for row in [*rows, chart["legend"]]:  # type: ignore[list-item]
                boxes = sorted(row)
                if not boxes:
                    continue
                for (_, right, a), (left, _, b) in zip(boxes, boxes[1:], strict=False):
                    assert left >= right + 2, (page.name, chart["label"], a, b)
                assert boxes[0][0] >= 0 and boxes[-1][1] <= width, (page.name, chart["label"], boxes)
    assert charts_seen >= 20


def test_archive_author_page_renders_to_a_screenshot(archive_pages: list[Path]) -> None:
    page = next(p for p in archive_pages if p.name == "a-busy00000004.html")
    shot = page.with_suffix(".png")
    chromium(page.parent, "--window-size=1100,700", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
