"""Tests for monitor.report: the terminal report at 80 columns and every export format."""

from __future__ import annotations

import csv
import io
import json
import random
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser
from typing import ClassVar

import pytest
from rich.console import Console
from scoreframes import T0, score_frame

from monitor.report.common import fit_width, sparkline
from monitor.report.data import ReportData, build_report_data
from monitor.report.html import to_html
from monitor.report.terminal import terminal_report
from monitor.report.text import export, to_json, to_markdown

SHIFTED = "a-00000000000s"


@pytest.fixture(scope="module")
def data() -> ReportData:
    rng = random.Random(7)
    rows = []
    pid = 1
    authors = [
        (SHIFTED, "feed-a"),
        ("a-00000000000b", "feed-a"),
        ("a-00000000000c", "a-source-with-a-very-long-name|pipe"),
    ]
    for author, source in authors:
        for i in range(60):
            v = 0.1 + rng.random() * 0.1
            if author == SHIFTED and i >= 50:
                v = 0.8
            rows.append(
                {
                    "post_id": pid,
                    "author": author,
                    "source": source,
                    "created_at": T0 + timedelta(hours=12 * i + pid % 5),
                    "depression_index": v,
                    "carer_sadness": v,
                    "goemo_grief": v / 2,
                    "big5_ext": rng.random(),
                }
            )
            pid += 1
    alerts = [
        {
            "id": 1,
            "rule": "rise",
            "subject_kind": "author",
            "subject": SHIFTED,
            "severity": "high",
            "status": "new",
            "trigger_at": "2025-01-27T09:00:00Z",
            "evidence": {"cusum": 5.2, "post_ids": [51]},
        }
    ]
    return build_report_data(score_frame(rows), alerts, by="day", min_posts_big5=20)


def render(data: ReportData, width: int = 80) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(terminal_report(data))
    return console.export_text()


def test_terminal_report_fits_80_columns_and_has_every_section(data: ReportData) -> None:
    text = render(data)
    assert max(len(line) for line in text.splitlines()) <= 80
    for heading in (
        "emomon trend report",
        "Trends by day",
        "Rising most",
        "Authors to review",
        "Sources",
        "Personality (3 authors",
    ):
        assert heading in text
    assert "180 posts, 3 authors, 2 sources" in text and "not a diagnosis" in text
    assert "alerts 1 new, 0 acknowledged, 0 resolved" in text
    assert f"{SHIFTED}" in text and "#1 rise high" in text
    assert "depression index" in text and "grief" in text
    spark = next(line for line in text.splitlines() if "depression index" in line)
    assert "█" in spark and "▁" in spark  # the shift shows in the sparkline


def test_terminal_report_of_nothing_says_what_to_do() -> None:
    empty = build_report_data(score_frame([]), [], by="week")
    assert empty.empty
    text = render(empty)
    assert "emomon score" in text and max(len(x) for x in text.splitlines()) <= 80


def test_sparkline_scales_and_marks_gaps() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([0.2, None, 0.2]) == "▄ ▄"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10


def test_json_export_parses_and_carries_the_numbers(data: ReportData) -> None:
    doc = json.loads(export(data, "json"))
    assert doc["overview"]["posts"] == 180 and doc["overview"]["model_versions"] == ["test-v1"]
    assert len(doc["periods"]) == len(doc["volume"]) == len(doc["trends"][0]["values"])
    assert sum(doc["volume"]) == 180
    assert doc["review"][0]["author"] == SHIFTED
    assert doc["rising"][0]["signal"] in ("depression_index", "carer_sadness")
    assert {t["trait"] for t in doc["personality"]["traits"]} == {"EXT", "NEU", "AGR", "CON", "OPN"}


def test_csv_export_parses_into_the_same_numbers(data: ReportData) -> None:
    rows = list(csv.DictReader(io.StringIO(export(data, "csv"))))
    assert set(rows[0]) == {"section", "subject", "period", "metric", "value"}
    volume = [int(r["value"]) for r in rows if r["section"] == "trend" and r["metric"] == "posts"]
    assert sum(volume) == 180
    doc = json.loads(to_json(data))
    idx = [
        float(r["value"])
        for r in rows
        if r["section"] == "trend" and r["subject"] == "depression_index" and r["metric"] == "mean" and r["value"]
    ]
    assert idx == [v for v in doc["trends"][0]["values"] if v is not None]
    assert {r["section"] for r in rows} == {"overview", "trend", "rising", "review", "source", "personality"}


def test_markdown_tables_are_well_formed(data: ReportData) -> None:
    md = export(data, "md")
    assert md.startswith("# emomon trend report")
    table: list[str] = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            cells = [len(_split_md(row)) for row in table]
            assert len(set(cells)) == 1, table  # every row has the header's column count
            table = []
    assert "a-source-with-a-very-long-name\\|pipe" in md


def _split_md(row: str) -> list[str]:
    return [c for c in row.replace("\\|", "").strip("|").split("|")]


class _Checker(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "meta",
        "br",
        "img",
        "hr",
        "input",
        "link",
        "rect",
        "circle",
        "polyline",
        "line",
        "path",
    }

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.svgs = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "svg":
            self.svgs += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        return None

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_export_is_balanced_and_has_inline_svg_charts(data: ReportData) -> None:
    page = export(data, "html")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert checker.svgs >= len(data.trends) + 1
    for chunk in page.split("<svg")[1:]:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")  # each chart is valid XML
    assert "<script" not in page
    assert "a-source-with-a-very-long-name|pipe" in "".join(checker.text)


def test_html_escapes_names() -> None:
    rows = [{"post_id": 1, "author": "a-x", "source": "<b>evil</b>", "created_at": T0, "depression_index": 0.3}]
    page = to_html(build_report_data(score_frame(rows), []))
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page


def test_unknown_export_format() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        export(build_report_data(score_frame([]), []), "pdf")


def test_html_escapes_hostile_author_and_source_names() -> None:
    author, source = "<script>alert('a')</script>", '<script src="x"></script>&'
    rows = [
        {
            "post_id": i + 1,
            "author": author,
            "source": source,
            "created_at": T0 + timedelta(days=i),
            "depression_index": 0.2 + i / 20,
        }
        for i in range(12)
    ]
    alerts = [
        {
            "id": 1,
            "rule": "<img onerror=x>",
            "subject_kind": "author",
            "subject": author,
            "severity": "high",
            "status": "new",
            "trigger_at": "2025-01-05T09:00:00Z",
            "evidence": {},
        }
    ]
    data = build_report_data(score_frame(rows), alerts, min_posts_big5=1, filters={"source": source, "author": author})
    page = to_html(data)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#39;a&#39;)&lt;/script&gt;" in page  # author: review table
    assert 'of &lt;script src=&#34;x&#34;&gt;&lt;/script&gt;&amp;"' in page  # SVG aria-label
    assert "&lt;img onerror=x&gt;" in page  # the alert's rule
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    text = "".join(checker.text)
    assert author in text and source in text  # shown as text, not markup


def test_html_needs_no_network(data: ReportData) -> None:
    page = to_html(data)
    for marker in ("<link", "<script", "<img", "<iframe", "src=", "@import", "url("):
        assert marker not in page, marker  # nothing the browser would fetch
    assert page.count('href="#author-') == len(data.review)  # only links within the page


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_terminal_report_uses_the_width_it_is_given(data: ReportData, width: int) -> None:
    text = render_at(data, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert max(len(line) for line in lines) >= width - 2  # tables stretch to the width
    # A long source name wraps; it is never cut with an ellipsis.
    assert "…" not in text
    assert (
        "a-source-with-a-very-long-name|pipe" in text.replace("\n", "").replace("│", "").replace(" ", "") or width < 120
    )


def render_at(data: ReportData, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(terminal_report(data, width))
    return console.export_text()


def test_every_report_format_carries_the_legend(data: ReportData) -> None:
    for text in (render(data), to_html(data)):
        for term in ("recent", "baseline", "z", "share ≥ 0.5"):
            assert f"{term}:" in text or f"<dt>{term}</dt>" in text, term
    legend = json.loads(to_json(data))["legend"]
    assert "author's own latest post" in legend["recent"] and "up to 2025-01-30" in legend["recent"]


def test_fit_width_honours_the_option_then_the_terminal_within_limits() -> None:
    assert fit_width(None, 40) == 60 and fit_width(None, 500) == 200
    assert fit_width(100, 80) == 100 and fit_width(None, 132) == 132


def test_figures_of_one_author_do_not_depend_on_the_other_authors() -> None:
    rows = []
    for i in range(60):  # SHIFTED posts every 12 h, raised over its last 10 posts
        rows.append(
            {
                "author": SHIFTED,
                "created_at": T0 + timedelta(hours=12 * i),
                "depression_index": 0.7 if i >= 50 else 0.1 + 0.01 * (i % 4),
            }
        )
        rows.append({"author": "a-later", "created_at": T0 + timedelta(hours=12 * i + 1), "depression_index": 0.1})
    rows.append(
        {"author": "a-later", "created_at": T0 + timedelta(days=33), "depression_index": 0.1}
    )  # three days after SHIFTED's last post
    frame = score_frame(rows)
    end = frame["created_at"].max()
    full = {r["author"]: r for r in build_report_data(frame, []).review}
    mine = frame.filter(frame["author"] == SHIFTED)
    alone = build_report_data(mine, [], end=end).review[0]
    for key in ("recent_posts", "recent_mean", "baseline_mean", "z"):
        assert alone[key] == full[SHIFTED][key], key
    own_end = build_report_data(mine, []).review[0]
    for key in ("recent_posts", "recent_mean", "baseline_mean", "z", "recent_end"):
        assert own_end[key] == full[SHIFTED][key], key  # recent ends at the author's own last post
    assert full[SHIFTED]["recent_end"] == (T0 + timedelta(hours=12 * 59)).isoformat().replace("+00:00", "Z")
    assert full[SHIFTED]["recent_posts"] == 14


def test_markdown_carries_the_legend_and_the_big_five_caveat(data: ReportData) -> None:
    md = to_markdown(data)
    assert "## What the numbers mean" in md and "- **baseline**:" in md
    assert "_Big Five: weak signal:" in md
