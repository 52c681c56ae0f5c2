"""``emomon init``: a commented config.toml, a database at the newest schema, the next commands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from monitor.cli.app import AppContext, pass_app_without_config
from monitor.errors import EmomonError

#: The model directory name the embedded default configures.
MODEL_LINE = re.compile(r'^path = "(models/[^"]+)"$', re.MULTILINE)


def default_config_text() -> str:
    """The embedded default config, comments and all (the package's copy of config.toml)."""
    from importlib.resources import files

    return (files("monitor.settings") / "default.toml").read_text(encoding="utf-8")


def find_model(relative: str) -> Path | None:
    """The shipped model directory ``relative`` (e.g. ``models/emomon-mtl-v3``), if it is here.

    Looked for beside the package (a clone or an editable install) and in the current directory.
    """
    import monitor

    for root in (Path(monitor.__file__).resolve().parent.parent, Path.cwd()):
        candidate = root / relative
        if (candidate / "model.safetensors").is_file():
            return candidate.resolve()
    return None


def init_config_text(model: Path | None) -> tuple[str, str]:
    """The config to write and the model path it names (absolute when the model was found)."""
    text = default_config_text()
    match = MODEL_LINE.search(text)
    if match is None:
        raise EmomonError("the embedded default config has no [model] path line: reinstall emomon")
    found = model or find_model(match.group(1))
    if found is None:
        return text, match.group(1)
    return text[: match.start()] + f'path = "{found.as_posix()}"' + text[match.end() :], str(found)


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--model",
    "model",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Model directory to configure (default: the shipped model, if "
    "found). Example: --model /opt/emomon/models/emomon-mtl-v3",
)
@pass_app_without_config
def init_cmd(app: AppContext, directory: Path, model: Path | None) -> None:
    """Start a new emomon directory: a commented config.toml, the database, the next steps.

    An existing config.toml is never overwritten.

    Example: emomon init ~/emomon
    """
    from monitor.settings import load_settings
    from monitor.store.engine import open_store

    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    if config.exists() or config.is_symlink():
        raise EmomonError(f"{config} already exists: edit it, or run `emomon init` in another directory")
    text, model_at = init_config_text(model.resolve() if model else None)
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, {})
    open_store(settings).dispose()
    if not (Path(model_at) if Path(model_at).is_absolute() else directory / model_at).is_dir():
        from monitor.safe_text import text as safe_text

        app.log(
            safe_text(
                (f"no model found at {model_at}", "yellow"),
                f": set [model] path in {config} to your emomon-mtl-v3 directory (or rerun with --model DIR)",
            )
        )
    flag = "" if directory.resolve() == Path.cwd().resolve() else f" --config {config}"
    click.echo(f"wrote {config} and created the database {settings.database.url}")
    click.echo("next:")
    click.echo(f"  emomon{flag} sources add NAME PATH-OR-URL   # a JSON lines/CSV file, a feed, an archive")
    click.echo(f"  emomon{flag} run                            # ingest, score, alerts, report")
    click.echo(f"  emomon{flag} alerts list                    # what needs a reviewer")


COMMANDS = (init_cmd,)
