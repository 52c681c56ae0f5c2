"""Start-up: commands that do not score, and scoring's imports, model load and first post.

Commands (the default): ``emomon --help``, ``emomon alerts list`` and ``emomon report`` on a
tiny store (``emomon init`` plus the repository's ``examples/posts.jsonl`` ingested), each run
``--runs`` times (default 5) in a fresh process and timed from outside (interpreter start
included); the figures are the medians of the wall clock and of the CPU time (user + system,
which a busy machine changes less), printed beside the floor: a fresh Python that imports click
and exits. None of these commands should import torch, onnxruntime or
transformers (tests/cli/test_startup_imports.py checks that).

Scoring (``--precisions fp32,bf16,int8``): each run is a new Python process timed inside: the
imports emomon needs, ``load_predictor`` with ``[scoring] precision`` set, and scoring one post.
The int8 cache (``$EMOMON_CACHE_DIR`` or ~/.cache/emomon) is built by the first int8 load and
reused after.

Usage: python bench/startup.py [--runs 5] [--json]
       python bench/startup.py --precisions fp32,bf16,int8 [--runs 3] [--config config.toml]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import torch  # noqa: F401
from pathlib import Path
from monitor.model.configured import load_predictor
from monitor.settings import load_settings
t1 = time.perf_counter()
predictor = load_predictor(load_settings(Path(sys.argv[1]), {"EMOMON_SCORING_PRECISION": sys.argv[2]}))
t2 = time.perf_counter()
predictor.predict(["i feel so alone tonight"])
t3 = time.perf_counter()
print(json.dumps({"precision": predictor.precision, "imports": t1 - t0, "load": t2 - t1, "first": t3 - t2}))
"""

#: The commands timed, as arguments after ``emomon``.
COMMANDS = (("--help",), ("alerts", "list"), ("report",))


def emomon() -> list[str]:
    """The installed ``emomon`` script beside this interpreter, else the same entry point via -c."""
    script = Path(sys.executable).with_name("emomon")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from monitor.cli import cli; sys.argv[0] = 'emomon'; cli()"]


def cpu_of_children() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``argv``; a failing run stops the benchmark with its output."""
    cpu, started = cpu_of_children(), time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout}{out.stderr}")
    return elapsed, cpu_of_children() - cpu


def tiny_store(site: Path, env: dict[str, str]) -> None:
    """``emomon init site`` and the example posts ingested into it."""
    subprocess.run([*emomon(), "init", str(site)], env=env, capture_output=True, check=True)
    subprocess.run(
        [*emomon(), "--config", str(site / "config.toml"), "ingest", str(REPO / "examples" / "posts.jsonl")],
        cwd=site,
        env=env,
        capture_output=True,
        check=True,
    )


def commands(runs: int) -> dict[str, list[tuple[float, float]]]:
    """``{label: [(wall, CPU) seconds per run]}`` for the floor and each command."""
    site = Path(tempfile.mkdtemp(prefix="emomon-startup-"))
    try:
        env = {**os.environ, "EMOMON_CONFIG": str(site / "config.toml")}
        env.pop("EMOMON_DATABASE_URL", None)
        tiny_store(site, env)
        timings: dict[str, list[tuple[float, float]]] = {"python -c 'import click' (floor)": []}
        timings.update({"emomon " + " ".join(c): [] for c in COMMANDS})
        for _ in range(runs):  # interleaved, so a busy moment on the machine hits every command alike
            timings["python -c 'import click' (floor)"].append(timed([sys.executable, "-c", "import click"], site, env))
            for command in COMMANDS:
                timings["emomon " + " ".join(command)].append(timed([*emomon(), *command], site, env))
        return timings
    finally:
        shutil.rmtree(site, ignore_errors=True)


def scoring(precisions: list[str], runs: int, config: str) -> None:
    """Print model load, imports and first post per precision (medians of ``runs`` fresh processes)."""
    for precision in precisions:
        results = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, config, precision], capture_output=True, text=True, check=True
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        load = [r["load"] for r in results]
        print(
            f"precision {precision} -> {results[-1]['precision']}: model load median {statistics.median(load):.2f} s "
            f"of {', '.join(f'{x:.2f}' for x in load)}; imports median "
            f"{statistics.median(r['imports'] for r in results):.2f} s; "
            f"first post median {statistics.median(r['first'] for r in results):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="", help="time scoring start-up at these precisions instead")
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per figure (default 5 for commands, 3 for scoring)"
    )
    parser.add_argument("--config", default="config.toml", help="config for the scoring figures")
    parser.add_argument("--json", action="store_true", help="print the command figures as one JSON document")
    args = parser.parse_args()
    if args.precisions:
        scoring(args.precisions.split(","), args.runs or 3, args.config)
        return
    timings = commands(args.runs or 5)
    figures = {
        label: {
            "median_s": statistics.median(w for w, _ in t),
            "median_cpu_s": statistics.median(c for _, c in t),
            "runs_s": [w for w, _ in t],
        }
        for label, t in timings.items()
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for label, f in figures.items():
        print(
            f"{label:<36} median {f['median_s']:.2f} s, CPU {f['median_cpu_s']:.2f} s  "
            f"(runs: {', '.join(f'{x:.2f}' for x in f['runs_s'])})"
        )


if __name__ == "__main__":
    main()
