"""The ``emomon score`` command (registered in ``monitor/cli.py``); the work is in monitor/score.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    """Posts per second, averaged by rich over the last updates."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- posts/s" if speed is None else f"{speed:,.0f} posts/s")


@click.command("score")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Score at most N posts this run (the rest stays for the next). Example: --limit 10000")
@click.option("--rescore", is_flag=True,
              help="Also re-score posts whose scores come from another model version; each old "
                   "score stays until its replacement is written. Example: --rescore")
@click.option("--model", "model", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model directory (default [model] path). Example: --model models/emomon-mtl-v1")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Where the model runs (default [scoring] device). Example: --device cuda")
@click.option("--batch-tokens", type=click.IntRange(min=1), default=None,
              help="Tokens per forward batch, padding included (default [scoring] batch_tokens). "
                   "Example: --batch-tokens 65536")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document: model_version, scored, skipped, windowed, seconds, "
                   "posts_per_second. Example: --json")
@click.pass_context
def score(ctx: click.Context, limit: int | None, rescore: bool, model: Path | None, device: str | None,
          batch_tokens: int | None, as_json: bool) -> None:
    """Score every stored post that has no score yet with the trained model.

    Posts in languages the model does not read ([scoring] languages) are stored as skipped with
    the reason. Safe to interrupt: a new run continues where the last one stopped.

    Example: emomon score --device cuda --batch-tokens 65536 --json
    """
    from monitor.pipeline import exclusive
    from monitor.score import run_score

    app = ctx.obj
    settings = app.settings
    engine = app.engine()
    show = not as_json and app.verbosity >= 0 and sys.stderr.isatty()
    with exclusive(settings, engine, label="score"), \
            progress_bar(app.err_console, enabled=show) as (on_total, advance):
        report = run_score(engine, settings, model=model, limit=limit, rescore=rescore, device=device,
                           batch_tokens=batch_tokens, progress=advance, on_total=on_total)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        if report.message:
            app.log(report.message)
        return
    if report.posts:
        app.console.print(
            f"scored {report.scored:,} posts with {report.model_version} ({report.skipped:,} "
            f"skipped, {report.windowed:,} windowed) in {report.seconds:.1f} s: "
            f"{report.posts_per_second:,.1f} posts/s",
            highlight=False,
        )
    if report.message and (app.verbosity >= 0 or not report.posts):
        app.console.print(report.message, highlight=False)


@contextmanager
def progress_bar(
    console: Console, *, enabled: bool
) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """Yield ``(on_total, advance)`` callbacks driving a rich bar, or ``(None, None)``."""
    if not enabled:
        yield None, None
        return
    with Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
    ) as progress:
        task = progress.add_task("score", total=None)

        def on_total(total: int) -> None:
            progress.update(task, total=total)

        def advance(posts: int) -> None:
            progress.advance(task, posts)

        yield on_total, advance
