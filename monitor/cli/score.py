"""``emomon score`` (stored posts) and ``emomon predict`` (texts given): both through the one
inference path with the [scoring] settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from monitor.choices import SCORING_ENGINES
from monitor.cli.app import AppContext, counted_progress, device_option, json_option, model_option, pass_app, print_json


@click.command("score")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Score at most N posts this run (the rest stays for the next). Example: --limit 10000",
)
@click.option(
    "--rescore",
    is_flag=True,
    help="Also re-score posts whose scores come from another model version; each old "
    "score stays until its replacement is written. Example: --rescore",
)
@model_option
@device_option
@click.option(
    "--batch-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Tokens per forward batch, padding included (default [scoring] batch_tokens). Example: --batch-tokens 65536",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(SCORING_ENGINES),
    default=None,
    help="Score in this process (local) or in a pool of Ray actors, one per GPU or else per CPU "
    "(ray; needs pip install 'emomon[ray]'). Default [scoring] engine. Example: --engine ray",
)
@click.option(
    "--address",
    default=None,
    help="With --engine ray: the Ray cluster to join instead of [scoring] ray_address; without "
    "either, a local Ray instance runs. Example: --address ray://head:10001",
)
@json_option
@pass_app
def score(
    app: AppContext,
    limit: int | None,
    rescore: bool,
    model: Path | None,
    device: str | None,
    batch_tokens: int | None,
    engine_name: str | None,
    address: str | None,
    as_json: bool,
) -> None:
    """Score every stored post that has no score yet with the trained model.

    Posts in languages the model does not read ([scoring] languages) are stored as skipped with
    the reason. Safe to interrupt: a new run continues where the last one stopped.

    Example: emomon score --device cuda --batch-tokens 65536 --json
    """
    if address is not None and (engine_name or app.settings.scoring.engine) != "ray":
        raise click.UsageError("--address joins a Ray cluster: add --engine ray")
    api = app.api
    with counted_progress(app, "scoring", "posts", enabled=app.interactive(as_json), waiting="loading model…") as bar:
        report = api.score(
            limit=limit,
            rescore=rescore,
            model=model,
            device=device,
            batch_tokens=batch_tokens,
            engine=engine_name,
            address=address,
            on_total=bar[0] if bar else None,
            progress=(lambda n: bar[1](n, "")) if bar else None,
        )
    if as_json:
        print_json(report.to_json())
        if report.message:
            app.log(report.message)
        return
    if report.posts:
        app.console.print(
            f"scored {report.scored:,} posts with {report.model_version} ({report.skipped:,} "
            f"skipped, {report.windowed:,} windowed) in {report.seconds:.1f} s "
            f"(model loaded in {report.seconds - report.scoring_seconds:.1f} s): "
            f"{report.posts_per_second:,.1f} posts/s",
            highlight=False,
            soft_wrap=True,
        )
    if report.message and (app.verbosity >= 0 or not report.posts):
        app.console.print(report.message, highlight=False, soft_wrap=True)


@click.command()
@click.argument("texts", nargs=-1)
@click.option(
    "--file",
    "file_",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read texts from a file, one per line ('-' for stdin). Example: --file posts.txt",
)
@model_option
@device_option
@click.option("--json", "as_json", is_flag=True, help="One JSON line per text. Example: --json")
@pass_app
def predict(
    app: AppContext, texts: tuple[str, ...], file_: Any, model: Path | None, device: str | None, as_json: bool
) -> None:
    """Score texts with the model: emotions, depression-emotion index, Big Five.

    Uses the [scoring] precision, windows and index weights, like `emomon score`.

    Example: emomon predict "i feel so alone tonight" --json
    """
    import json

    items = list(texts)
    if file_ is not None:
        items += [line.rstrip("\n") for line in file_ if line.strip()]
    if not items:
        raise click.UsageError("give texts as arguments or --file F (or --file - for stdin)")
    api = app.api
    predictor = api.predictor(model=model, device=device)
    results = api.predict(items, model=model, device=device)
    if as_json:
        for r in results:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{predictor.version}")
    distress = bool(results) and "distress" in results[0]
    for col in ("text", "CARER", "GoEmotions", "index", *(("distress",) if distress else ())):
        table.add_column(col)
    for r in results:
        extra = (f"{r['distress']:.2f}" + (f" ({r['impersonal']})" if r["impersonal"] else ""),) if distress else ()
        table.add_row(
            r["text"][:60],
            f"{r['carer_label']} {r['carer'][r['carer_label']]:.2f}",
            ", ".join(r["goemotions_labels"]) or "-",
            f"{r['depression_index']:.2f}",
            *extra,
        )
    app.console.print(table)


COMMANDS = (score, predict)
