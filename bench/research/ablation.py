"""Ablations at a reduced budget: the encoder is frozen (its pooled vectors computed once), and
only the branches, gates, heads and losses are trained for a fixed number of steps per variant.
Every variant sees the same features, batches and seed; metrics are on the validation splits.

Usage: python bench/research/ablation.py [--steps 3000] [--out ablation.json]
(`emomon train` copies an ``ablation.json`` found in its run directory into the model card.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monitor.model.batching import tokenize
from monitor.model.inference import forward_batches, make_batches
from monitor.model.network import TASKS, MultitaskNetwork, NetworkConfig
from monitor.training.data import TaskData, read_task
from monitor.training.losses import TaskLosses
from monitor.training.trainer import TrainConfig, meta_query_loss, task_schedule
from monitor.training.validation import selection_score, validation_summary

VARIANTS: dict[str, dict[str, Any]] = {
    "SoG, combined loss, static, sampled (reference)": {},
    "no gate": {"gate": "none"},
    "CARER: CE only": {"carer_loss": "ce"},
    "dynamic weights (Chae & Kim)": {"joint": "dynamic"},
    "uncertainty weights (Kendall)": {"joint": "uncertainty"},
    "alternating batches": {"mode": "alternate"},
    "MAML-like meta step": {"mode": "meta"},
    "GoEmotions focal BCE": {"goemotions_loss": "focal"},
    "focal BCE + uncertainty weights (v2's losses)": {"goemotions_loss": "focal", "joint": "uncertainty"},
}


class _Identity(torch.nn.Module):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:  # pragma: no cover - unused
        raise RuntimeError("frozen-feature ablation networks take pooled vectors")


def pooled_features(
    encoder_dir: Path, data: dict[str, TaskData], max_length: int, log: Callable[[str], None]
) -> dict[str, np.ndarray]:
    """Mean-pooled vectors of the frozen encoder for every task's texts."""
    from monitor.model.device import choose_autocast, choose_device
    from monitor.training.run import load_encoder

    tokenizer, encoder = load_encoder(encoder_dir)
    net = MultitaskNetwork(encoder, NetworkConfig(hidden_size=encoder.config.hidden_size))
    device = choose_device("auto")
    net.to(device)
    out = {}
    for task, d in data.items():
        started = time.perf_counter()
        ids = tokenize(tokenizer, d.texts, max_length)
        batches = make_batches(ids, 8192, pad_id=tokenizer.pad_token_id or 0)
        out[task] = forward_batches(
            net,
            batches,
            len(ids),
            device=device,
            dtype=choose_autocast(device, "auto"),
            heads=("pooled",),
            call=lambda i, m: {"pooled": net.pooled(i, m)},
        )["pooled"]
        log(f"encoded {len(d)} {task} texts in {time.perf_counter() - started:.0f}s")
    return out


def train_on_features(
    features: dict[str, np.ndarray], data: dict[str, TaskData], config: TrainConfig, hidden: int
) -> MultitaskNetwork:
    """Train branches + heads on fixed pooled vectors with the variant's gate, losses and mode."""
    torch.manual_seed(config.seed)
    net = MultitaskNetwork(_Identity(), NetworkConfig(hidden_size=hidden, gate=config.gate))  # type: ignore[arg-type]
    losses = TaskLosses(
        net.config.embedding_size,
        6,
        carer_loss=config.carer_loss,
        joint=config.joint,  # type: ignore[arg-type]
        metric=config.metric,
        tasks=config.tasks,
        goemotions_loss=config.goemotions_loss,
        focal_gamma=config.focal_gamma,
    )  # type: ignore[arg-type]
    params = [p for n, p in net.named_parameters() if not n.startswith("encoder.")] + list(losses.parameters())
    opt = torch.optim.AdamW(
        [p for p in params if p.requires_grad], lr=config.lr_heads, weight_decay=config.weight_decay
    )
    rng = np.random.default_rng(config.seed)
    for task in task_schedule(config):
        rows = rng.integers(0, len(features[task]), config.batch_size)
        pooled = torch.as_tensor(features[task][rows])
        target = torch.as_tensor(data[task].targets[rows])
        net.train()
        if config.mode == "meta":
            raw = meta_query_loss(net, losses, task, pooled, target, config.meta_support, config.meta_inner_lr)
        else:
            raw = losses.task_loss(task, net.heads(pooled), target)
        loss = losses.joint(task, raw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
        opt.step()
    return net.eval()


def evaluate_on_features(
    net: MultitaskNetwork, features: dict[str, np.ndarray], data: dict[str, TaskData]
) -> dict[str, float]:
    with torch.no_grad():
        logits = {task: {k: v.numpy() for k, v in net.heads(torch.as_tensor(features[task])).items()} for task in data}
    summary = validation_summary(logits, data)
    summary["score"] = selection_score(summary)
    return summary


def run_ablation(
    encoder_dir: Path,
    datasets: Path,
    *,
    steps: int = 3000,
    train_limit: int = 16000,
    seed: int = 13,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """All variants plus single-task runs; returns rows of validation metrics."""

    def limit(d: TaskData) -> TaskData:
        if len(d) <= train_limit:
            return d
        keep = np.sort(np.random.default_rng(seed).choice(len(d), train_limit, replace=False))
        return TaskData(
            d.task,
            d.split,
            [d.texts[i] for i in keep],
            d.targets[keep],
            [d.authors[i] for i in keep] if d.authors else None,
        )

    train = {t: limit(read_task(datasets, t, "train", seed)) for t in TASKS}
    val = {t: read_task(datasets, t, "validation", seed) for t in TASKS}
    f_train = pooled_features(encoder_dir, train, 96, log)
    f_val = pooled_features(encoder_dir, val, 96, log)
    hidden = next(iter(f_train.values())).shape[1]
    base = TrainConfig(steps=steps, batch_size=32, lr_heads=2e-3, seed=seed)
    rows = []
    for name, change in VARIANTS.items():
        started = time.perf_counter()
        net = train_on_features(f_train, train, replace(base, **change), hidden)
        rows.append(
            {
                "variant": name,
                **evaluate_on_features(net, f_val, val),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        log(f"ablation {name}: {rows[-1]}")
    for task in TASKS:
        cfg = replace(base, tasks=(task,), task_probs={task: 1.0}, steps=max(1, int(steps * base.task_probs[task])))
        net = train_on_features(f_train, {task: train[task]}, cfg, hidden)
        rows.append(
            {"variant": f"single-task {task}", **evaluate_on_features(net, {task: f_val[task]}, {task: val[task]})}
        )
        log(f"ablation single-task {task}: {rows[-1]}")
    return {
        "budget": f"frozen encoder (pooled all-MiniLM-L6-v2 vectors), {steps} steps of batch 32, "
        f"at most {train_limit} training texts per task; validation split",
        "rows": rows,
    }


def main() -> None:
    """Run the ablation on the base encoder and the shared datasets; write JSON."""
    import argparse
    import json

    from monitor.training.run import default_encoder_dir

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=root.parent / "shared" / "datasets")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path("ablation.json"))
    args = parser.parse_args()
    result = run_ablation(default_encoder_dir(), args.datasets, steps=args.steps)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
