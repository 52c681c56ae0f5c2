from datetime import UTC, datetime

import pytest

from monitor.ingest.text import clean_text, content_hash, marker_pattern, parse_datetime

UTC = UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  hello\n\n world\t ", "hello world"),
        ("zero\u200bwidth\x00and\x07control", "zero width and control"),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("   ", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_content_hash_is_stable_and_short():
    assert content_hash("a") == content_hash("a")
    assert content_hash("a") != content_hash("b")
    assert len(content_hash("a")) == 32


def test_content_hash_survives_lone_surrogates():
    assert len(content_hash("bad \udcff")) == 32


def test_markers_match_whole_tokens_in_any_case():
    pattern = marker_pattern(["#nobots", "#noindex"])
    assert pattern.search("please #NoBots thanks")
    assert pattern.search("#noindex")
    assert not pattern.search("#nobotsplease")
    assert not pattern.search("nobots")
    assert marker_pattern([]) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800000, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("1714564800", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("Wed May 01 12:00:00 +0000 2024", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("Wed, 01 May 2024 12:00:00 GMT", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_parse_datetime_forms(value, expected):
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("value", ["yesterday", "", True, [1], float("nan"), 1e30])
def test_parse_datetime_rejects(value):
    with pytest.raises(ValueError):
        parse_datetime(value)
