"""Candidate base encoders side by side: frozen mean-pooled features, a linear probe, and cost.

Each encoder directory (Hugging Face layout, safetensors weights, read offline) embeds the same
CARER and GoEmotions training and validation samples; a logistic-regression probe is fitted on
the training sample and scored on validation (CARER accuracy and macro-F1; GoEmotions macro
average precision, which needs no threshold). Cost is posts/s of the encoder's fp32 forward on
the same validation texts, batch 64, on this machine's threads. A frozen probe ranks encoders
by what their features carry; it is not the fine-tuned model's figure.

Usage: python bench/research/encoders.py --encoder minilm=DIR --encoder mpnet=DIR
       [--datasets ../shared/datasets] [--train 3000] [--val 1000] [--out encoders.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, f1_score
from transformers import AutoModel, AutoTokenizer

from monitor.training.data import TaskData, read_task

BATCH = 64


def sample(data: TaskData, n: int, seed: int) -> TaskData:
    """A seeded sample of ``n`` items (all when there are fewer)."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(data))[:n])
    return TaskData(data.task, data.split, [data.texts[i] for i in idx], data.targets[idx])


@torch.inference_mode()
def embed(directory: Path, texts: list[str]) -> tuple[np.ndarray, float]:
    """Mean-pooled, L2-normalised features of ``texts`` and the forward's posts/s."""
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModel.from_pretrained(directory, use_safetensors=True).eval()
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        idx = order[start : start + BATCH]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out, len(texts) / (time.perf_counter() - t0)


def probe(directory: Path, datasets: Path, n_train: int, n_val: int, seed: int) -> dict[str, Any]:
    """Validation figures and cost of one encoder."""
    figures: dict[str, Any] = {
        "parameters_m": round(
            sum(p.numel() for p in AutoModel.from_pretrained(directory, use_safetensors=True).parameters()) / 1e6, 1
        )
    }
    for task in ("carer", "goemotions"):
        train = sample(read_task(datasets, task, "train"), n_train, seed)
        val = sample(read_task(datasets, task, "validation"), n_val, seed)
        x_train, _ = embed(directory, train.texts)
        x_val, speed = embed(directory, val.texts)
        figures.setdefault("posts_per_s", round(speed, 1))
        if task == "carer":
            clf = LogisticRegression(max_iter=2000, C=4.0).fit(x_train, train.targets)
            pred = clf.predict(x_val)
            figures["carer_accuracy"] = round(float(accuracy_score(val.targets, pred)), 4)
            figures["carer_macro_f1"] = round(float(f1_score(val.targets, pred, average="macro")), 4)
        else:
            present = [
                j
                for j in range(train.targets.shape[1])
                if 0 < train.targets[:, j].sum() < len(train) and val.targets[:, j].sum() > 0
            ]
            scores = np.zeros((len(val), len(present)))
            for k, j in enumerate(present):
                clf = LogisticRegression(max_iter=2000, C=4.0).fit(x_train, train.targets[:, j])
                scores[:, k] = clf.predict_proba(x_val)[:, 1]
            figures["goemotions_macro_ap"] = round(
                float(average_precision_score(val.targets[:, present], scores, average="macro")), 4
            )
            figures["goemotions_labels_scored"] = len(present)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", action="append", required=True, help="NAME=DIRECTORY (repeatable)")
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "datasets")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    results = {}
    for item in args.encoder:
        name, _, directory = item.partition("=")
        results[name] = probe(Path(directory), args.datasets, args.train, args.val, args.seed)
        print(name, json.dumps(results[name]), flush=True)
    print(f"threads={torch.get_num_threads()}, train={args.train}, val={args.val} per task, seed={args.seed}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
