"""Add and remove ``[[sources]]`` entries in a config file, keeping everything else as written.

The file is edited as a tomlkit document, so comments and formatting survive and a source's
sub-tables (``[sources.columns]``) come and go with it. Comment lines directly above a table
header belong to that header: removing a source drops the comments just above it and keeps
the ones above whatever follows it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Item, Key, Null, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from monitor.errors import ConfigError, EmomonError
from monitor.ingest.registry import canonical_location
from monitor.locations import is_url
from monitor.redact import redact_url
from monitor.settings import COLUMN_KEYS, SOURCE_KINDS

# A place that items render just before: a container and the index they go in front of.
_Slot = tuple[Container, int]


def add_source(path: Path, *, name: str, kind: str, location: str, columns: dict[str, str]) -> None:
    """Append a ``[[sources]]`` table after the last source (or at the end of the file).

    ``location`` is written as given: a URL, or a path relative to the config file's directory
    (:func:`config_location` turns a path given on the command line into one).

    Raises:
        ConfigError: The name is taken, another source reads the same location, or the kind
            or a column key is unknown.
        EmomonError: The JSON lines or CSV file there has no column the mapping (or the
            default text column) names.
    """
    doc = _parse(path)
    sources = _sources(doc, path)
    if sources is not None and any(t.get("name") == name for t in sources):
        raise ConfigError(f"source {name!r} already exists in {str(path)!r}: pick another name or remove it first")
    wanted = _canonical_in(location, path.parent)
    for table in sources or []:
        there = table.get("location")
        if isinstance(there, str) and _canonical_in(there, path.parent) == wanted:
            raise ConfigError(
                f"source {table.get('name')!r} in {str(path)!r} already reads {redact_url(wanted)}: "
                f"ingest it by that name, or remove it first"
            )
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    for key in columns:
        if key not in COLUMN_KEYS:
            raise ConfigError(f"column key {key!r} is not one of {', '.join(COLUMN_KEYS)}")
    if not is_url(wanted):
        _check_columns(wanted, kind, columns)
    entry = tomlkit.table()
    entry.add("name", name)
    entry.add("kind", kind)
    entry.add("location", location)
    if columns:
        inline = tomlkit.inline_table()
        inline.update(columns)
        entry.add("columns", inline)
    entry.add("enabled", True)
    if sources is None:
        entry.trivia.indent = "" if doc.as_string().endswith("\n\n") else "\n"
        sources = tomlkit.aot()
        sources.append(entry)
        doc.append("sources", sources)
    else:
        # Comments just above the table after the last source keep introducing that table.
        intro = _take_trailing_comments(_tail(sources[-1].value))
        entry.trivia.indent = "" if sources[-1].as_string().endswith("\n\n") else "\n"
        sources.append(entry)
        for item in intro:
            entry.value.add(item)
    _write(path, doc, [t.get("name") for t in sources])


def _check_columns(location: str, kind: str, columns: dict[str, str]) -> None:
    """Refuse a column mapping (or the default text column) that matches no column of the file's
    head, naming the columns it has; a file that is not there yet is not checked.

    Raises:
        EmomonError: A mapped column is not in the file.
    """
    import difflib

    from monitor.ingest.files import unmatched_columns

    checked = unmatched_columns(location, kind, columns)
    if checked is None or not checked[0]:
        return
    missing, found = checked
    wrong = ", ".join(
        f"column {field}={name}" if field in columns else f"the default {field} column {name!r}"
        for field, name in missing.items()
    )
    guesses = [
        f"{field}={close[0]}"
        for field, name in missing.items()
        if (close := difflib.get_close_matches(name, found, n=1, cutoff=0.5))
    ]
    shown = ", ".join(found[:30]) + (f" and {len(found) - 30} more" if len(found) > 30 else "")
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    raise EmomonError(
        f"{wrong} match{'es' if len(missing) == 1 else ''} nothing in {location!r}, which has the columns {shown}: map "
        f"{', '.join(missing)} to one of them{hint}"
    )


def config_location(location: str, config_dir: Path) -> str:
    """How a location is written in the config file: a canonical URL, or the real path,
    relative to ``config_dir`` when the file lies below it (config paths are read relative to
    the config file's directory)."""
    canonical = canonical_location(location)
    if is_url(canonical):
        return canonical
    real_dir = Path(os.path.realpath(config_dir))
    try:
        return Path(canonical).relative_to(real_dir).as_posix()
    except ValueError:
        return canonical


def _canonical_in(location: str, config_dir: Path) -> str:
    """The canonical form of a location written in a config file in ``config_dir``."""
    if is_url(location):
        return canonical_location(location)
    return canonical_location(str(config_dir / Path(location).expanduser()))


def remove_source(path: Path, name: str) -> None:
    """Delete the ``[[sources]]`` table called ``name``, its sub-tables and the comment lines
    just above it.

    Raises:
        ConfigError: No source has that name.
    """
    doc = _parse(path)
    sources = _sources(doc, path)
    index = next((i for i, t in enumerate(sources or []) if t.get("name") == name), None)
    if sources is None or index is None:
        raise ConfigError(f"no source named {name!r} in {str(path)!r}: see `emomon sources list`")
    before = _slot_before(doc, sources, index)
    # Lookups first: the edits below leave the document fit only for rendering.
    following = _take_trailing_comments(_tail(sources[index].value))
    _drop_trailing_comments(before)
    del sources[index]
    if len(sources) == 0:
        del doc["sources"]
    container, at = before
    if isinstance(_last_item(container, at), Whitespace):
        # the blank line above the removed header already separates the comments
        following = following[1:] if following and isinstance(following[0], Whitespace) else following
    for offset, item in enumerate(following):
        container.body.insert(at + offset, (None, item))
    names = [t.get("name") for t in sources]
    _write(path, doc, names)


def _parse(path: Path) -> TOMLDocument:
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {exc}; fix it first") from exc
    if doc.as_string() != text:
        raise ConfigError(
            f"{str(path)!r} cannot be edited without reordering it (a [[sources]] table after "
            "another table?); move all [[sources]] tables together, or edit the file by hand"
        )
    return doc


def _sources(doc: TOMLDocument, path: Path) -> AoT | None:
    """The ``[[sources]]`` array of tables, None when the file has none."""
    if "sources" not in doc:
        return None
    sources = doc.item("sources")
    if not isinstance(sources, AoT):
        raise ConfigError(f"sources in {str(path)!r} is not written as [[sources]] tables: edit it by hand")
    return sources


def _write(path: Path, doc: TOMLDocument, names: list[object]) -> None:
    """Write ``doc`` after checking it reads back with exactly the sources ``names``."""
    text = doc.as_string()
    parsed = tomllib.loads(text).get("sources", [])
    if [s.get("name") for s in parsed] != names:  # never write a file we cannot read back
        raise ConfigError(f"editing {str(path)!r} went wrong; the file is unchanged")
    from monitor.safe_write import write_text_atomic

    # The file a symlinked config points to is the one edited; the rename keeps it whole.
    write_text_atomic(path.resolve(), text)


def _tail(container: Container) -> Container:
    """The container whose items render last inside ``container`` (its last sub-table's)."""
    last = _last_item(container, len(container.body))
    if isinstance(last, Table):
        return _tail(last.value)
    if isinstance(last, AoT) and len(last) > 0:
        return _tail(last[-1].value)
    return container


def _last_item(container: Container, end: int) -> Item | None:
    for _, item in reversed(container.body[:end]):
        if not isinstance(item, Null):
            return item
    return None


def _slot_before(doc: TOMLDocument, sources: AoT, index: int) -> _Slot:
    """Where the text just above source ``index``'s header lives."""
    if index > 0:
        tail = _tail(sources[index - 1].value)
        return tail, len(tail.body)
    at = next(i for i, (key, item) in enumerate(doc.body) if item is sources)
    previous = _last_item(doc, at)
    if isinstance(previous, Table):
        tail = _tail(previous.value)
        return tail, len(tail.body)
    return doc, at


def _comment_run(body: list[tuple[Key | None, Item]], end: int) -> list[int]:
    """Indices of the comment lines directly above ``end`` (no blank line between)."""
    found: list[int] = []
    for i in range(end - 1, -1, -1):
        item = body[i][1]
        if isinstance(item, Null):
            continue
        if not isinstance(item, Comment):
            break
        found.append(i)
    return sorted(found)


def _take_trailing_comments(container: Container) -> list[Item]:
    """Remove and return the comment lines at the end of ``container``, with the blank lines
    that separate them from what comes before."""
    body = container.body
    run = _comment_run(body, len(body))
    if not run:
        return []
    start = run[0]
    while start > 0 and isinstance(body[start - 1][1], (Whitespace, Null)):
        start -= 1
    taken = [item for _, item in body[start:] if not isinstance(item, Null)]
    for i in range(start, len(body)):
        body[i] = (None, Null())
    return taken


def _drop_trailing_comments(slot: _Slot) -> None:
    """Remove the comment lines directly above the slot."""
    container, end = slot
    for i in _comment_run(container.body, end):
        container.body[i] = (None, Null())
