"""Start-up of scoring: imports, model load and the first post, in fresh processes per precision.

Each run is a new Python process (nothing cached in memory), timed inside: the imports emomon
needs, ``load_predictor`` with ``[scoring] precision`` set, and scoring one post. The int8 cache
(``$EMOMON_CACHE_DIR`` or ~/.cache/emomon) is built by the first int8 load and reused after.

Usage: python bench/startup.py [--precisions fp32,bf16,int8] [--runs 3] [--config config.toml]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", default="config.toml")
    args = parser.parse_args()
    for precision in args.precisions.split(","):
        runs = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, "-c", CHILD, args.config, precision], capture_output=True,
                                 text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        load = [r["load"] for r in runs]
        print(f"precision {precision} -> {runs[-1]['precision']}: model load median {statistics.median(load):.2f} s "
              f"of {', '.join(f'{x:.2f}' for x in load)}; imports median {statistics.median(r['imports'] for r in runs):.2f} s; "
              f"first post median {statistics.median(r['first'] for r in runs):.2f} s")


if __name__ == "__main__":
    main()
