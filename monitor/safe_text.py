"""Data on the terminal is data: the one path from stored or received strings to the screen.

Post text, handles, source names, notes, reasons, dates and HTTP status lines come from people
emomon does not trust. On the way out none of them may act as rich markup (``[/]`` crashes a
view, ``[link=…]`` draws a clickable link), as emoji codes, or as terminal control: C0 (ESC
starts every escape sequence), DEL, C1 (U+009B is a one-character CSI) and the bidi controls
that reorder what a reviewer reads.

* :func:`clean` replaces every such character with a visible escape (``\\x1b``, ``\\u202e``);
  new lines and tabs stay.
* :func:`text` builds a rich :class:`~rich.text.Text` from data (cleaned, never parsed).
* :func:`console` makes the only kind of console emomon prints through, a :class:`SafeConsole`:
  it never parses markup or emoji in a string, cleans every string before layout and, as the
  last line, every segment it writes.
* :func:`echo` is ``click.echo`` for plain-text output (CSV, Markdown, reveal lines, error
  lines); :func:`escape_json` escapes the same characters in JSON text, losslessly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any, Literal

import click
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

#: Bidirectional controls: embeddings and overrides, isolates, marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: Every character that must not reach a terminal as itself (new line and tab excepted).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI_CONTROLS + "\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object) -> str:
    """``str(value)`` with every terminal control character replaced by a visible escape.

    Example: ``clean("a\\x1b[31mb\\u202e")`` is ``'a\\\\x1b[31mb\\\\u202e'``.
    """
    return UNSAFE.sub(_visible, str(value))


def text(
    *parts: object,
    style: str = "",
    no_wrap: bool | None = None,
    overflow: Literal["fold", "crop", "ellipsis", "ignore"] | None = None,
) -> Text:
    """A :class:`~rich.text.Text` of ``parts`` (each a value, or a ``(value, style)`` pair), cleaned,
    never read as markup.

    Example: ``text(("warning:", "yellow"), " file ", path, " does not exist")``.
    """
    out = Text(style=style, no_wrap=no_wrap, overflow=overflow)
    for part in parts:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], str):
            out.append(clean(part[0]), style=part[1] or None)
        else:
            out.append(clean(part))
    return out


def escape_json(document: str) -> str:
    """JSON text with the characters :func:`clean` replaces written as ``\\uXXXX`` escapes.

    Lossless: the document parses to the same data. Outside strings JSON is ASCII, so only
    string contents change.
    """
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def echo(message: str, *, err: bool = False, nl: bool = True, json: bool = False) -> None:
    """``click.echo`` of plain text (``json``: JSON text) with terminal controls made harmless."""
    click.echo(escape_json(message) if json else clean(message), err=err, nl=nl)


class SafeConsole(Console):
    """A rich console that prints data as data.

    Strings are never parsed as markup or emoji codes and are cleaned before layout; every
    segment is cleaned again on the way out, so a :class:`~rich.text.Text` built elsewhere
    from raw data cannot emit a control character either. rich's own styles and cursor
    controls (colours, progress redraws) are unaffected.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["markup"] = False
        kwargs["emoji"] = False
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, *, style: str | Style = "", **options: Any) -> Text:
        """The string as plain :class:`~rich.text.Text`, cleaned: markup and emoji are off."""
        options["markup"] = False
        options["emoji"] = False
        return super().render_str(clean(text), style=style, **options)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Rich's segments, with control characters in their text replaced."""
        for segment in super().render(renderable, options):
            if segment.control is None and UNSAFE.search(segment.text):
                yield Segment(clean(segment.text), segment.style)
            else:
                yield segment


def console(
    *,
    file: IO[str] | None = None,
    stderr: bool = False,
    width: int | None = None,
    highlight: bool = True,
    color_system: Literal["auto", "standard", "256", "truecolor", "windows"] | None = "auto",
) -> SafeConsole:
    """A :class:`SafeConsole` (every console emomon prints through is one)."""
    return SafeConsole(file=file, stderr=stderr, width=width, highlight=highlight, color_system=color_system)
