"""Distress at int8 and bf16 beside fp32 on the Dreaddit test split and the headlines test part.

The same texts through the shipped model's one inference path at each precision: F1 at 0.5 and
AUROC on Dreaddit, the share of headlines at distress >= 0.5, and the mean / largest absolute
difference of distress from fp32.

Usage: python bench/research/distress_precision.py [--model models/emomon-mtl-v3] [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.model.predictor import load_model  # noqa: E402
from monitor.training.data import read_headlines, read_task  # noqa: E402
from monitor.training.metrics import auroc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "emomon-mtl-v3")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    dreaddit = read_task(args.datasets, "distress", "test")
    headlines, _ = read_headlines(args.datasets, "test")
    truth = dreaddit.targets[:, 0] > 0.5
    results, reference = {}, None
    for precision in ("fp32", "int8", "bf16"):
        predictor = load_model(args.model, device="cpu", precision=precision)
        d = predictor.score_ids(predictor.encode(dreaddit.texts)).distress
        h = predictor.score_ids(predictor.encode(headlines)).distress
        assert d is not None and h is not None, "the model has no distress head"
        both = np.concatenate([d, h])
        pred = d >= 0.5
        tp, fp, fn = int((truth & pred).sum()), int((~truth & pred).sum()), int((truth & ~pred).sum())
        row = {
            "ran_as": predictor.precision,
            "dreaddit_f1": 2 * tp / max(1, 2 * tp + fp + fn),
            "dreaddit_auroc": auroc(truth, d),
            "headlines_share": float((h >= 0.5).mean()),
        }
        if reference is None:
            reference = both
        else:
            row["mean_abs_difference"] = float(np.abs(both - reference).mean())
            row["max_abs_difference"] = float(np.abs(both - reference).max())
        results[precision] = row
        print(precision, json.dumps(row), flush=True)
    print(json.dumps({"model": str(args.model), "texts": len(dreaddit) + len(headlines), "precisions": results}))


if __name__ == "__main__":
    main()
