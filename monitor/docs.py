"""The generated parts of ``docs/``: the command reference, the settings reference, the module list.

``python -m monitor.docs`` rewrites, in each page, the text between its markers
(``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->``) and leaves the rest as
written; ``python -m monitor.docs --check`` changes nothing and exits 1 naming every page that
is out of date (a test runs the same check). The sources are the click commands (their
``--help`` at a fixed width) and the exit statuses of :mod:`monitor.errors`, the settings models
with the packaged ``default.toml``, and the first paragraph of every module's docstring (read
with :mod:`ast`: nothing is imported).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import annotated_types
import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

#: Columns of the ``--help`` texts in the command reference.
WIDTH = 100
PACKAGE = Path(__file__).resolve().parent


# -- pages and markers -----------------------------------------------------------------------


def marker(name: str) -> tuple[str, str]:
    """The lines that open and close the generated block ``name``."""
    return (
        f"<!-- generated: {name} (python -m monitor.docs; edits between these lines are overwritten) -->",
        f"<!-- end generated: {name} -->",
    )


def splice(page: str, name: str, content: str) -> str:
    """``page`` with the block ``name`` replaced by ``content``.

    Raises:
        ValueError: The page lacks the block's markers.
    """
    start, end = marker(name)
    head, found, rest = page.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise ValueError(f"no block {name!r}: add the lines {start!r} and {end!r}")
    return f"{head}{start}\n\n{content.strip()}\n\n{end}{tail}"


# -- the command reference -------------------------------------------------------------------


def commands(group: click.Group | None = None) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command with its path of names, the group first and then its commands by name."""
    if group is None:
        from monitor.cli import cli

        group = cli
    yield (), group
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from (((name, *path), sub) for path, sub in commands(command))
        else:
            yield (name,), command


def help_text(path: tuple[str, ...]) -> str:
    """``emomon PATH --help`` at :data:`WIDTH` columns, whatever the terminal."""
    from monitor.cli import cli

    ctx = click.Context(cli, info_name="emomon", terminal_width=WIDTH, max_content_width=WIDTH, **cli.context_settings)
    for name in path:
        group = ctx.command
        assert isinstance(group, click.Group)
        command = group.get_command(ctx, name)
        assert command is not None, name
        ctx = click.Context(command, info_name=name, parent=ctx, **command.context_settings)
    return ctx.get_help()


def anchor(title: str) -> str:
    """The id GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def render_commands() -> str:
    """An index of every command, then each command's ``--help`` under its own heading."""
    found = list(commands())
    index = []
    sections = []
    for path, command in found:
        title = " ".join(("emomon", *path))
        index.append(f"- [`{title}`](#{anchor(title)}): {command.get_short_help_str(limit=90)}")
        sections.append(f"### {title}\n\n```text\n{help_text(path).rstrip()}\n```")
    return "\n".join(index) + "\n\n" + "\n\n".join(sections)


# -- the settings reference ------------------------------------------------------------------


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation names, if it names one."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def tables() -> Iterator[tuple[str, type[BaseModel], str | None]]:
    """``(TOML header, model, top-level section or None)`` of every table in the settings, in
    the order of the models; the section is set where ``EMOMON_*`` variables reach its keys."""
    from monitor.settings import Settings

    def walk(
        prefix: str, model: type[BaseModel], section: str | None
    ) -> Iterator[tuple[str, type[BaseModel], str | None]]:
        if any(model_of(f.annotation) is None for f in model.model_fields.values()):
            yield f"[{prefix}]", model, section
        for name, field in model.model_fields.items():
            sub = model_of(field.annotation)
            if sub is not None:
                yield from walk(f"{prefix}.{name}", sub, None)

    for name, field in Settings.model_fields.items():
        sub = model_of(field.annotation)
        if sub is not None:
            yield from walk(name, sub, name)
        elif typing.get_origin(field.annotation) is tuple:
            item = model_of(typing.get_args(field.annotation)[0])
            if item is not None:
                yield f"[[{name}]]", item, None


def constraint(item: Any) -> str | None:
    """``≥ 1`` for an annotated-types bound; None for anything else."""
    for kind, attr, sign in (
        (annotated_types.Ge, "ge", "≥"),
        (annotated_types.Gt, "gt", ">"),
        (annotated_types.Le, "le", "≤"),
        (annotated_types.Lt, "lt", "<"),
    ):
        if isinstance(item, kind):
            return f"{sign} {getattr(item, attr)}"
    return None


def type_name(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A key's type in words: ``integer ≥ 1``, ``"day" | "week"``, ``list of strings``."""
    bounds = [
        b
        for item in metadata
        for b in ([constraint(item)] if not isinstance(item, FieldInfo) else [constraint(m) for m in item.metadata])
        if b
    ]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return type_name(args[0], [*metadata, *args[1:]])
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return f"{type_name(rest[0], metadata)} or unset" if len(rest) == 1 else " or ".join(map(type_name, rest))
    if origin is typing.Literal:
        name = ", ".join(f"`{json.dumps(a)}`" for a in args)
    elif origin is tuple:
        name = f"list of {plural_type(type_name(args[0]))}"
    elif origin is dict:
        name = f"table of {plural_type(type_name(args[1]))}"
    else:
        name = {
            bool: "boolean",
            int: "integer",
            float: "number",
            str: "string",
            Path: "path",
            dt.date: "date (YYYY-MM-DD)",
        }.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return ", ".join([name, *bounds])


def plural_type(name: str) -> str:
    """``strings`` for ``string``, ``numbers, ≥ 0`` for ``number, ≥ 0``."""
    if name.startswith("`"):
        return name
    word, sep, rest = name.partition(",")
    return f"{word}s{sep}{rest}"


def toml_value(value: Any) -> str:
    """A default as it is written in TOML (``unset`` for None)."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}" if value else "{}"
    return str(value)


def default_of(field: FieldInfo) -> str:
    """A field's default in TOML, or ``required``."""
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    return toml_value(field.get_default(call_default_factory=True))


def default_config() -> str:
    """The packaged default configuration (what ``emomon init`` writes)."""
    return (files("monitor.settings") / "default.toml").read_text(encoding="utf-8")


def config_chunks(text: str) -> dict[str, str]:
    """The default config cut into its tables: ``{header: text}``. A table takes the comment
    paragraphs that stand apart (after a blank line) just above its header; repeated headers
    (``[[sources]]``, also as commented-out examples) are joined; ``""`` is what comes before
    the first table."""
    pieces: dict[str, list[list[str]]] = {"": [[]]}
    current = pieces[""][0]
    for line in text.splitlines():
        header = re.match(r"^(?:# )?(\[\[?[\w.]+\]\]?)\s*(#.*)?$", line)  # "# [[sources]]": a commented example
        if header is None:
            current.append(line)
            continue
        lead: list[str] = []
        while True:
            while current and not current[-1].strip():
                current.pop()
            start = len(current)
            while start and current[start - 1].lstrip().startswith("#"):
                start -= 1
            if start == len(current) or start == 0 or current[start - 1].strip():
                break
            lead = [*current[start:], "", *lead]
            del current[start:]
        current = [*lead, line]
        pieces.setdefault(header.group(1), []).append(current)
    return {h: "\n\n".join("\n".join(p).strip("\n") for p in parts) for h, parts in pieces.items()}


def docstring_text(model: type[BaseModel]) -> str:
    """A model's docstring as Markdown prose (reST roles and literals made plain)."""
    return plain(" ".join(line.strip() for line in (model.__doc__ or "").strip().splitlines()))


def plain(text: str) -> str:
    """reST roles and double back-quotes as Markdown code."""
    text = re.sub(
        r":\w+:`~?([^`]+)`", lambda m: f"`{m.group(1).rsplit('.', 1)[-1] if '~' in m.group(0) else m.group(1)}`", text
    )
    return text.replace("``", "`")


def render_settings() -> str:
    """Per table: the model's docstring, its keys (type, default, environment variable) and the
    table as the packaged default config writes it."""
    from monitor.settings.loading import env_aliases, env_name

    chunks = config_chunks(default_config())
    out = ["The packaged default config begins:", "", "```toml", chunks[""], "```"]
    for header, model, section in tables():
        rows = ["| key | type | default | environment |", "| --- | --- | --- | --- |"]
        for key, field in model.model_fields.items():
            if model_of(field.annotation) is not None:
                continue
            env = [*env_aliases(section, key), env_name(section, key)] if section else []
            rows.append(
                f"| `{key}` | {type_name(field.annotation, field.metadata)} | `{default_of(field)}` | "
                f"{', '.join(f'`{v}`' for v in env) or '—'} |"
            )
        part = [f"### `{header}`", "", docstring_text(model), "", *rows]
        if header in chunks:
            part += ["", "In the packaged default config:", "", "```toml", chunks[header], "```"]
        out.append("\n".join(part))
    return "\n\n".join(out)


def undocumented() -> list[str]:
    """``[table] key`` for every settings key the packaged default config does not mention in
    its table (as a key, a commented-out key, or a word in the comments)."""
    chunks = config_chunks(default_config())
    missing = []
    for header, model, _ in tables():
        text = chunks.get(header, "")
        for key, field in model.model_fields.items():
            if model_of(field.annotation) is None and not re.search(rf"\b{re.escape(key)}\b", text):
                missing.append(f"{header} {key}")
    return missing


# -- the module list -------------------------------------------------------------------------


def modules(root: Path = PACKAGE) -> Iterator[tuple[str, str | None]]:
    """``(path, first docstring paragraph)`` of every module of the package, packages first;
    the migration scripts are left out."""

    def key(path: Path) -> tuple[str, ...]:
        parts = path.relative_to(root).parts
        return (*parts[:-1], "" if parts[-1] == "__init__.py" else parts[-1])

    for path in sorted(root.rglob("*.py"), key=key):
        rel = path.relative_to(root.parent)
        if "migrations" in rel.parts:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        first = " ".join(doc.split("\n\n")[0].split()) if doc else None
        name = f"{rel.parent}/" if path.name == "__init__.py" else str(rel)
        yield name.replace("\\", "/"), plain(first) if first else None


def escape_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def render_modules() -> str:
    """One table row per module: its path and the first paragraph of its docstring."""
    rows = ["| module | what it is |", "| --- | --- |"]
    rows += [f"| `{name}` | {escape_cell(doc or '')} |" for name, doc in modules()]
    return "\n".join(rows)


def render_exit_statuses() -> str:
    """The exit statuses every command shares (:data:`monitor.errors.EXIT_STATUSES`)."""
    from monitor.errors import exit_status_table

    return exit_status_table()


#: Page (under docs/) → its blocks: (block name, what renders it).
PAGES: dict[str, tuple[tuple[str, Callable[[], str]], ...]] = {
    "cli.md": (("exit-statuses", render_exit_statuses), ("commands", render_commands)),
    "configuration.md": (("settings", render_settings),),
    "architecture.md": (("modules", render_modules),),
}


def rendered(page: str, blocks: tuple[tuple[str, Callable[[], str]], ...]) -> str:
    """``page`` with each of its generated ``blocks`` rendered anew."""
    for block, render in blocks:
        page = splice(page, block, render())
    return page


def stale(docs: Path) -> list[str]:
    """The pages under ``docs`` whose generated blocks differ from what the code gives now."""
    return [
        name
        for name, blocks in PAGES.items()
        if (page := (docs / name).read_text(encoding="utf-8")) != rendered(page, blocks)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the docs folder (default: docs)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a page is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale(args.docs)
        for name in out_of_date:
            print(f"{args.docs / name} is out of date: run python -m monitor.docs", file=sys.stderr)
        return 1 if out_of_date else 0
    for name, blocks in PAGES.items():
        path = args.docs / name
        page = path.read_text(encoding="utf-8")
        new = rendered(page, blocks)
        if new != page:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
