"""Turn HTML fragments (feed content, archive posts) into clean plain text.

Built on the standard library's :class:`html.parser.HTMLParser`, which tolerates broken
markup. Rules: tags are dropped, the contents of ``script``, ``style`` and ``template`` are
dropped, entities and character references are unescaped, block elements and ``<br>`` end a
line, runs of other whitespace (line breaks in the source included) become one space, and blank
lines are dropped.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements whose content is never text a person wrote for readers.
_SKIPPED = frozenset({"script", "style", "template"})

# Elements that start and end a line of text.
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)

# Every character str.splitlines() breaks on: in HTML source they are plain spaces, and only
# block elements may end a line.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", " "))


class _TextExtractor(HTMLParser):
    """Collects text data outside skipped elements, with line breaks at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <script/>: a self-closed element never opens a skipped region.
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth == 0:
            self.parts.append(data.translate(_LINE_BREAKS))


def collapse_whitespace(text: str) -> str:
    """Collapse runs of whitespace inside each line to one space and drop blank lines.

    Args:
        text: Plain text, e.g. ``"  a \\t b \\n\\n\\n c "``.

    Returns:
        The tidied text, e.g. ``"a b\\nc"``; ``""`` when nothing but whitespace was given.
    """
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> str:
    """Convert an HTML fragment or document to clean plain text.

    Args:
        html: Markup such as ``"<p>Hello&nbsp;<b>world</b></p><script>x()</script>"``.

    Returns:
        Plain text such as ``"Hello world"``: tags removed, script/style/template contents
        removed, entities unescaped, block elements on their own lines, whitespace collapsed.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))
