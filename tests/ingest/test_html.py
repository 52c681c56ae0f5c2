"""Tests for monitor.ingest.html: HTML fragments to clean plain text."""

from __future__ import annotations

import pytest

from monitor.ingest.html import collapse_whitespace, html_to_text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("no markup at all", "no markup at all"),
        ("", ""),
        ("   \n\t ", ""),
        ("<p></p><div> </div>", ""),
        ("<a href='https://x.example/?a=1&amp;b=2'>link text</a>", "link text"),
        ("un<b>bro</b>ken", "unbroken"),  # inline tags do not split words
        ("<b>one</b>\n<b>two</b>\r\nthree", "one two three"),  # source line breaks are spaces
    ],
)
def test_tags_are_removed(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_entities_and_character_references_are_unescaped() -> None:
    html = "Fish &amp; chips &lt;3 &quot;yes&quot; it&#8217;s caf&eacute; &#x1F600;"
    assert html_to_text(html) == 'Fish & chips <3 "yes" it\u2019s caf\u00e9 \U0001f600'


def test_escaped_markup_stays_text() -> None:
    # One level of escaping is content, not markup: it must not be parsed as a tag again.
    assert html_to_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "<script>alert(1)</script>"


def test_script_style_and_template_contents_are_removed() -> None:
    html = (
        "<p>before</p><script>if (a < b && c > d) { track('</p>'); }</script>"
        "<style>p > a { color: red }</style><template><p>hidden</p></template><p>after</p>"
    )
    assert html_to_text(html) == "before\nafter"


def test_unclosed_script_removes_the_rest_not_the_beginning() -> None:
    assert html_to_text("visible <script>var x = 1; never closed") == "visible"


def test_self_closed_script_does_not_hide_following_text() -> None:
    assert html_to_text("<script src='x.js'/>still here") == "still here"


def test_block_elements_and_br_end_lines() -> None:
    html = "<h1>Title</h1><p>First<br>second<br/>third</p><ul><li>one</li><li>two</li></ul>x"
    assert html_to_text(html) == "Title\nFirst\nsecond\nthird\none\ntwo\nx"


def test_whitespace_is_collapsed_including_nbsp() -> None:
    html = "<p>  lots   of\n\n   space&nbsp;&nbsp;here\t</p>\n\n\n<p>\u00a0</p><p>next</p>"
    assert html_to_text(html) == "lots of space here\nnext"


def test_comments_and_cdata_are_dropped() -> None:
    assert html_to_text("a<!-- secret comment -->b<![CDATA[raw]]>c") == "abc"


def test_broken_markup_does_not_raise() -> None:
    html = "<div><p>unclosed <b>bold <i>both</div> tail </span></p> a < b and <3 <"
    text = html_to_text(html)
    assert text.startswith("unclosed bold both")
    assert "a < b" in text


def test_whole_document_keeps_body_text() -> None:
    html = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><p>Body</p></body></html>"
    assert html_to_text(html) == "Body"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a \t b  ", "a b"),
        ("a\n\n\nb", "a\nb"),
        ("line one  \n   line two", "line one\nline two"),
        ("\u00a0\u2003 \n", ""),
        ("keep <3 and &amp; as text", "keep <3 and &amp; as text"),
    ],
)
def test_collapse_whitespace(text: str, expected: str) -> None:
    assert collapse_whitespace(text) == expected
