"""Speed of the Korean network beside the English network, and the cost of routing, in one run.

On the same machine and in the same process (validation texts read by path from
``../shared/datasets``):

* Korean sentences/s through the predictor's Korean path (``Predictor.score_korean``: features,
  batches, the network, the index), fp32;
* English posts/s through the English path (``Predictor.score_ids`` on CARER validation posts,
  tokenised beforehand, the loaded precision) as the baseline;
* the language check per post with and without the script routing (``LanguageFilter.route``
  against langid alone, as before Korean routing), on English posts: what routing adds to the
  English path.

Usage (from the repository root):
    python bench/korean.py                       # models/emomon-mtl-v3, 980 Korean + 980 English
    python bench/korean.py --precision bf16 --json
    python bench/korean.py --record              # the figures into the model card's Korean section
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from monitor.model.predictor import load_model  # noqa: E402
from monitor.model.routing import is_korean  # noqa: E402
from monitor.score.language import LanguageFilter  # noqa: E402


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (the platform's name elsewhere)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def texts(path: Path, n: int) -> list[str]:
    rows = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return (rows * (n // len(rows) + 1))[:n]


def best_of(repeats: int, run) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "emomon-mtl-v3")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--posts", type=int, default=980)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the figures into the model's korean/training.json and its card's Korean section",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = load_model(args.model, device="cpu", precision=args.precision)
    if predictor.korean is None:
        raise SystemExit(f"{args.model} has no Korean network (korean/)")
    korean = texts(args.datasets / "korean_emotion" / "validation.jsonl", args.posts)
    english = texts(args.datasets / "carer_emotion" / "validation.jsonl", args.posts)
    ids = predictor.encode(english)
    predictor.score_korean(korean[:64])
    predictor.score_ids(ids[:64])
    korean_s = best_of(args.repeats, lambda: predictor.score_korean(korean))
    english_s = best_of(args.repeats, lambda: predictor.score_ids(ids))
    languages = LanguageFilter(("en", "ko"))
    tags = [None] * len(english)
    routed_s = best_of(args.repeats, lambda: languages.route(english, tags))
    langid_s = best_of(args.repeats, lambda: languages.identify_many(english))
    script_s = best_of(args.repeats, lambda: [is_korean(t) for t in english])
    result = {
        "machine": f"{cpu_name()}, {args.threads} threads",
        "korean_posts_per_second": len(korean) / korean_s,
        "english_posts_per_second": len(english) / english_s,
        "english_precision": predictor.precision,
        "korean_share": korean_s / english_s,
        "language_check_us_per_post": {
            "route": 1e6 * routed_s / len(english),
            "langid_alone": 1e6 * langid_s / len(english),
            "script_check": 1e6 * script_s / len(english),
        },
        "english_model_us_per_post": 1e6 * english_s / len(english),
    }
    print(f"Korean network (fp32):      {result['korean_posts_per_second']:9.0f} sentences/s")
    print(f"English network ({predictor.precision}): {result['english_posts_per_second']:9.0f} posts/s (baseline)")
    lc = result["language_check_us_per_post"]
    print(
        f"language check per English post: {lc['route']:.1f} us routed, {lc['langid_alone']:.1f} us langid alone "
        f"(script check {lc['script_check']:.2f} us), beside {result['english_model_us_per_post']:.0f} us of model"
    )
    if args.json:
        print(json.dumps(result))
    if args.record:
        from monitor.training.card import write_korean_section

        path = args.model / "korean" / "training.json"
        record = json.loads(path.read_text(encoding="utf-8"))
        record["speed"] = result | {"command": " ".join(["python bench/korean.py", *sys.argv[1:]])}
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")
        write_korean_section(args.model)


if __name__ == "__main__":
    main()
