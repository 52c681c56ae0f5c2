"""Feed bytes to clean UTF-8 for feedparser: decoding, and all XML entity/DOCTYPE defusing.

Decoding: byte order mark > HTTP charset > XML declaration > UTF-8, with fallbacks for
mislabelled or broken bytes, so a wrong declared encoding or invalid UTF-8 never crashes.

Defusing happens here only, in two layers:

* :func:`strip_doctype` removes every DOCTYPE with an internal subset (where entities are
  declared: billion laughs, external entities pointing at local files) before any parser sees
  the document. It is a lexical scan because feeds are often not well-formed, which a real XML
  parser (defusedxml's included) rejects, and feedparser then re-reads them with its loose
  parser.
* defusedxml's expat reader is made feedparser's strict SAX parser (:func:`create_parser`).
  It raises on any entity declaration that got past the scan, so the feed fails with a
  SourceError instead of expanding it. External DTDs stay allowed but are never loaded:
  feedparser turns off external entities, and RSS 0.91 feeds name a DTD.
"""

from __future__ import annotations

import codecs
import re

import feedparser.api
from defusedxml.expatreader import DefusedExpatParser

# Characters XML 1.0 forbids; a feed containing them would make the strict parser give up.
_XML_ILLEGAL = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
# Encodings whose declaration is often wrong for a body that is really UTF-8.
_LEGACY_SINGLE_BYTE = frozenset({"ascii", "latin_1", "iso8859-1", "cp1252", "iso8859-15"})
# Decode these as Windows-1252, a superset that browsers also use for them.
_AS_CP1252 = frozenset({"ascii", "latin_1", "iso8859-1"})
_UTF8_OVERRIDE = "declared encoding {} but the body is valid UTF-8; read as UTF-8"
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# Codec names (as codecs.lookup spells them, "-" read as "_") of character sets: the whitelist.
_TEXT_CODECS = re.compile(
    r"utf_(?:8|16|32)(?:_sig|_le|_be)?|ascii|latin_1|iso8859_\d{1,2}|cp\d{3,5}|mac_[a-z]+"
    r"|koi8_[rtu]|kz1048|ptcp154|hp_roman8|tis_620|euc_[a-z0-9_]+|shift_jis(?:_2004|x0213)?"
    r"|gb2312|gbk|gb18030|hz|big5(?:hkscs)?|iso2022_[a-z0-9_]+|johab"
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How "<?" (or "<?xm" for EBCDIC) starts in encodings that are not ASCII-compatible.
_SNIFF = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)


def prepare_document(data: bytes, http_charset: str | None = None) -> tuple[bytes, list[str]]:
    """Decode and defuse a feed; return (UTF-8 document for feedparser, warnings).

    The XML declaration is rewritten to say UTF-8, and feedparser's strict parser is set to
    defusedxml's (see :func:`create_parser`).
    """
    _use_defused_parser()
    text, warnings = decode_feed_bytes(data, http_charset)
    text, removed = strip_doctype(text)
    if removed:
        warnings.append(f"removed a DOCTYPE with {removed}; entity declarations are not allowed")
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end >= 0:
            text = '<?xml version="1.0" encoding="utf-8"?>' + text[end + 2 :]
    return text.encode("utf-8"), warnings


def create_parser() -> DefusedExpatParser:
    """SAX driver entry point (``xml.sax.make_parser``): expat refusing entity declarations.

    ``forbid_external`` is off because expat reports a DOCTYPE's external DTD as an external
    reference; the reference is not followed, as feedparser disables external entities.
    """
    return DefusedExpatParser(forbid_dtd=False, forbid_entities=True, forbid_external=False)


def _use_defused_parser() -> None:
    """Put this module first in feedparser's SAX drivers (idempotent)."""
    drivers = feedparser.api.PREFERRED_XML_PARSERS
    if drivers[:1] != [__name__]:
        drivers.insert(0, __name__)


# --- decoding ----------------------------------------------------------------------------------


def decode_feed_bytes(data: bytes, http_charset: str | None = None) -> tuple[str, list[str]]:
    """Decode a feed document to text without ever failing.

    The encoding is taken from the byte order mark, else the HTTP charset, else the XML
    declaration, else UTF-8; declared names must be character sets (:func:`text_codec`). A single-byte declaration
    on a body that is valid UTF-8 is read
    as UTF-8; bytes invalid in the chosen encoding fall back to UTF-8, then Windows-1252, and
    are finally replaced with U+FFFD. Characters XML forbids are removed. Each such repair
    adds a warning.

    Args:
        data: The raw document.
        http_charset: The charset parameter of the HTTP Content-Type header, if any.

    Returns:
        ``(text, warnings)``; the text has no byte order mark and no leading whitespace.
    """
    warnings: list[str] = []
    encoding, body, declared = _sniff_encoding(data, http_charset, warnings)
    text = _decode(body, encoding, declared, warnings)
    cleaned = text.translate(_XML_ILLEGAL)
    if len(cleaned) != len(text):
        warnings.append(f"removed {len(text) - len(cleaned)} characters that XML does not allow")
    return cleaned.lstrip("\ufeff \t\r\n"), warnings


def _sniff_encoding(data: bytes, http_charset: str | None, warnings: list[str]) -> tuple[str, bytes, bool]:
    """Return (codec name, body without BOM, whether the name came from a declaration)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, data[len(bom) :], False
    for prefix, name in _SNIFF:
        if data.startswith(prefix):
            return name, data, False
    match = _XML_ENCODING.match(data.lstrip()[:1024])
    xml_label = match.group(1).decode("ascii") if match else None
    for label, what in ((http_charset, "HTTP charset"), (xml_label, "XML declaration")):
        if not label:
            continue
        codec, problem = text_codec(label)
        if codec is not None:
            return codec, data, True
        warnings.append(f"{problem} in the {what}; read as UTF-8")
    return "utf-8", data, False


def text_codec(label: str) -> tuple[str | None, str]:
    """Resolve a declared encoding through the whitelist of character-set codecs.

    Python's codec registry also holds codecs that are not character sets (punycode, idna,
    rot13, base64, zlib, unicode_escape, utf-7, ...): decoding a document with them fails
    or smuggles text in, so only :data:`_TEXT_CODECS` names are accepted.

    Returns:
        ``(codec name, "")``, or ``(None, reason)`` when the label is unknown or not a
        character set.
    """
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None, f"unknown encoding {label[:40]!r}"
    if not _TEXT_CODECS.fullmatch(name.replace("-", "_")):
        return None, f"{label[:40]!r} is not a text encoding"
    return name, ""


def _decode(body: bytes, encoding: str, declared: bool, warnings: list[str]) -> str:
    """Decode with the sniffed encoding, falling back as :func:`decode_feed_bytes` says."""
    if declared and encoding in _LEGACY_SINGLE_BYTE and not body.isascii():
        text = _strict_utf8(body)
        if text is not None:
            warnings.append(_UTF8_OVERRIDE.format(encoding))
            return text
    codec = "cp1252" if encoding in _AS_CP1252 else encoding
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        if codec == "utf-8":
            return _repair_utf8(body, warnings)
        text = _strict_utf8(body)
        if text is None:
            warnings.append(f"invalid {encoding} bytes replaced with U+FFFD")
            return body.decode(codec, "replace")
        warnings.append(_UTF8_OVERRIDE.format(encoding))
        return text


def _strict_utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _repair_utf8(body: bytes, warnings: list[str]) -> str:
    """Decode a body that is not valid UTF-8: keep UTF-8 if some of it is, else Windows-1252."""
    text = body.decode("utf-8", "replace")
    if any(ord(ch) > 0x7F and ch != "\ufffd" for ch in text):
        warnings.append("invalid UTF-8 bytes replaced with U+FFFD")
        return text
    # Not a single valid multi-byte sequence: a legacy single-byte encoding, mislabelled.
    warnings.append("body is not valid UTF-8 and has no UTF-8 characters; read as Windows-1252")
    return body.decode("cp1252", "replace")


# --- DOCTYPE stripping ---------------------------------------------------------------------------


def strip_doctype(text: str) -> tuple[str, str | None]:
    """Remove every DOCTYPE that has an internal subset from the document prolog.

    The internal subset (``<!DOCTYPE x [ ... ]>``) is where entities are declared, so
    removing it defeats entity expansion (billion laughs) and external entities (file reads)
    whatever parser runs next. A DOCTYPE with only an external identifier, like RSS 0.91's,
    is kept: no parser used here fetches external DTDs.

    Args:
        text: The decoded document.

    Returns:
        ``(text, removed)`` where ``removed`` describes what was removed, e.g.
        ``"entity declarations"``, or None when nothing was.
    """
    spans: list[tuple[int, int]] = []
    declares_entities = False
    pos = 0
    while (lt := text.find("<", pos)) >= 0:
        if text.startswith("<?", lt):
            end = text.find("?>", lt + 2)
            pos = len(text) if end < 0 else end + 2
        elif text.startswith("<!--", lt):
            end = text.find("-->", lt + 4)
            pos = len(text) if end < 0 else end + 3
        elif text[lt : lt + 9].upper() == "<!DOCTYPE":
            end, subset = _doctype_end(text, lt + 9)
            if subset is not None:
                spans.append((lt, end))
                declares_entities = declares_entities or "<!ENTITY" in subset.upper()
            pos = end
        elif lt + 1 < len(text) and (text[lt + 1].isalpha() or text[lt + 1] in "_:"):
            break  # the root element: no DOCTYPE may follow
        else:
            pos = lt + 1  # stray "<" in junk before the root; keep looking
    if not spans:
        return text, None
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    removed = "entity declarations" if declares_entities else "an internal subset"
    return "".join(pieces), removed


def _doctype_end(text: str, pos: int) -> tuple[int, str | None]:
    """Scan a DOCTYPE from after its keyword; return (end index, internal subset or None).

    Quoted literals and comments may contain ``[``, ``]`` and ``>``; an unterminated DOCTYPE
    runs to the end of the text.
    """
    quote: str | None = None
    subset_start: int | None = None
    n = len(text)
    while pos < n:
        ch = text[pos]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif subset_start is not None and text.startswith("<!--", pos):
            end = text.find("-->", pos + 4)
            pos = n if end < 0 else end + 3
            continue
        elif ch == "[" and subset_start is None:
            subset_start = pos + 1
        elif ch == "]" and subset_start is not None:
            close = text.find(">", pos + 1)
            end = n if close < 0 else close + 1
            return end, text[subset_start:pos]
        elif ch == ">" and subset_start is None:
            return pos + 1, None
        pos += 1
    return n, None if subset_start is None else text[subset_start:]
