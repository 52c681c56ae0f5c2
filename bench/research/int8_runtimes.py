"""The int8 CPU runtimes side by side: the candidates for ``[scoring] precision = "int8"``.

Every candidate runs the shipped network (encoder, branches and heads) on the same length-sorted
batches that ``emomon score`` forms (the predictor's own plan of the same posts), with the same
number of threads, and is compared with PyTorch fp32 on those batches:

* PyTorch fp32 (the reference) and PyTorch's dynamic int8 (``torch.ao.quantization``, the
  encoder's linear layers);
* ONNX Runtime fp32; dynamic int8 at its defaults; dynamic int8 per channel on the encoder's
  MatMuls of the op-by-op export; the same after ONNX Runtime's transformer optimizer fused the
  graph (what emomon ships, :mod:`monitor.model.int8`); static int8 (QDQ, per channel,
  calibrated on other posts);
* OpenVINO fp32 (inference precision f32) and OpenVINO on the static QDQ model, when the
  ``openvino`` package is installed (it is not a dependency of emomon: ``pip install openvino``).

Prints posts/s (median of ``--repeats``), the speed-up over PyTorch fp32, the mean and largest
absolute difference of all head probabilities from PyTorch fp32, the share of windows (one per
post unless a post is longer than the window) whose CARER class changes, and the installed size
of each runtime package.

Usage (from the repository root):
    python bench/research/int8_runtimes.py --posts 1500 --repeats 3
    python bench/research/int8_runtimes.py --only "op by op,fused"   # these beside PyTorch fp32
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from score import read_texts, take  # noqa: E402  (bench/score.py: the benchmark's posts)

from monitor.model.inference import forward_batches  # noqa: E402
from monitor.model.int8 import (  # noqa: E402
    export_onnx,
    fuse_onnx,
    head_nodes,
    head_probabilities,
    open_session,
    quantize_encoder,
)
from monitor.model.predictor import Predictor, WindowPlan, load_model  # noqa: E402

Call = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def installed_mb(distribution: str) -> float | None:
    """Installed size of a distribution's files, in MB (None when it is not installed)."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    return sum(f.locate().stat().st_size for f in files if f.locate().is_file()) / 1e6


def ort_call(model: Path, threads: int) -> Call:
    session = open_session(model.read_bytes(), threads)
    names = [output.name for output in session.get_outputs()]

    def call(ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        values = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        return {name: torch.from_numpy(v) for name, v in zip(names, values)}

    return call


def openvino_call(model: Path, threads: int, precision: str | None) -> Call:
    import openvino

    config: dict[str, object] = {"INFERENCE_NUM_THREADS": threads}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = openvino.Core().compile_model(str(model), "CPU", config)
    request = compiled.create_infer_request()

    def call(ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        result = request.infer({"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        return {output.get_any_name(): torch.from_numpy(np.asarray(result[output])) for output in compiled.outputs}

    return call


class Calibration:
    """ONNX Runtime's calibration reader over the batches of other posts."""

    def __init__(self, plan: WindowPlan) -> None:
        self.batches = iter(plan.batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {"input_ids": batch[1].numpy(), "attention_mask": batch[2].numpy()}


def build_candidates(
    predictor: Predictor, calibration: WindowPlan, work: Path, threads: int, only: list[str]
) -> dict[str, Call | None]:
    """Each candidate's forward (None: PyTorch's own network) and the files it needs, built in
    ``work``; with ``only``, PyTorch fp32 and the candidates whose names contain one of them."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    network = predictor.network
    probe = (torch.ones((2, 16), dtype=torch.int64), torch.ones((2, 16), dtype=torch.int64))
    fp32 = work / "fp32.onnx"
    export_onnx(network, probe, fp32)

    def dynamic_defaults() -> Call:
        quantize_dynamic(str(fp32), str(work / "dynamic-defaults.onnx"), weight_type=QuantType.QInt8)
        return ort_call(work / "dynamic-defaults.onnx", threads)

    def op_by_op() -> Call:
        quantize_dynamic(
            str(fp32),
            str(work / "dynamic-op-by-op.onnx"),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=head_nodes(fp32),
        )
        return ort_call(work / "dynamic-op-by-op.onnx", threads)

    def fused() -> Call:
        source = fuse_onnx(fp32, work / "fused.onnx", network.encoder.config) or fp32
        quantize_encoder(source, work / "dynamic-fused.onnx")
        return ort_call(work / "dynamic-fused.onnx", threads)

    def static_model() -> Path:
        if (work / "static.onnx").exists():
            return work / "static.onnx"
        quantize_static(
            str(fp32),
            str(work / "static.onnx"),
            Calibration(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=head_nodes(fp32),
            calibrate_method=CalibrationMethod.MinMax,
        )
        return work / "static.onnx"

    def torch_ao() -> Call:
        ao = copy.deepcopy(network)
        ao.encoder = torch.ao.quantization.quantize_dynamic(ao.encoder, {torch.nn.Linear}, dtype=torch.qint8)
        return ao

    builders: dict[str, Callable[[], Call]] = {
        "PyTorch dynamic int8 (torch.ao)": torch_ao,
        "ONNX Runtime fp32": lambda: ort_call(fp32, threads),
        "ONNX Runtime dynamic int8, defaults": dynamic_defaults,
        "ONNX Runtime dynamic int8, per channel, encoder MatMuls, op by op": op_by_op,
        "ONNX Runtime dynamic int8, per channel, encoder MatMuls and attention, fused (shipped)": fused,
        "ONNX Runtime static int8 (QDQ, per channel)": lambda: ort_call(static_model(), threads),
    }
    if installed_mb("openvino") is not None:
        builders["OpenVINO fp32"] = lambda: openvino_call(fp32, threads, "f32")
        builders["OpenVINO static int8 (the QDQ model)"] = lambda: openvino_call(static_model(), threads, None)
    candidates: dict[str, Call | None] = {"PyTorch fp32": None}
    for name, build in builders.items():
        if not only or any(part in name for part in only):
            candidates[name] = build()
    return candidates


def run(predictor: Predictor, plan: WindowPlan, call: Call | None) -> tuple[float, np.ndarray]:
    """Seconds of one forward over the plan's batches, and every head's probabilities."""
    forward_batches(predictor.network, plan.batches[:1], plan.n_windows, device=torch.device("cpu"), call=call)
    t0 = time.perf_counter()
    logits = forward_batches(predictor.network, plan.batches, plan.n_windows, device=torch.device("cpu"), call=call)
    return time.perf_counter() - t0, head_probabilities(logits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1500, help="posts timed (default 1,500)")
    parser.add_argument("--calibration-posts", type=int, default=256, help="other posts for static int8")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per candidate, interleaved; medians")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "emomon-mtl-v3")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument(
        "--only", default="", help="comma-separated parts of candidate names to run (beside PyTorch fp32)"
    )
    args = parser.parse_args()

    threads = torch.get_num_threads()
    predictor = load_model(args.model, device="cpu", precision="fp32")
    texts = read_texts(args.datasets)
    timed = take(texts, args.posts)
    plan = predictor.plan(predictor.encode(timed))
    calibration = predictor.plan(predictor.encode(texts[-args.calibration_posts :]))
    print(
        f"{args.posts:,} posts in {len(plan.batches)} batches ({plan.n_windows:,} windows), {threads} threads, "
        f"torch {torch.__version__}; model {predictor.version}"
    )
    with tempfile.TemporaryDirectory(prefix="emomon-int8-") as work:
        only = [part.strip() for part in args.only.split(",") if part.strip()]
        candidates = build_candidates(predictor, calibration, Path(work), threads, only)
        seconds: dict[str, list[float]] = {name: [] for name in candidates}
        probs: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):  # interleaved, so every candidate sees the same machine
            for name, call in candidates.items():
                elapsed, probs[name] = run(predictor, plan, call)
                seconds[name].append(elapsed)
    reference = probs["PyTorch fp32"]
    width = len(predictor.goemotions_labels)
    carer = slice(width, width + len(predictor.carer_labels))  # head_probabilities: goemotions | carer | big5
    base = args.posts / statistics.median(seconds["PyTorch fp32"])
    print("| runtime | posts/s | vs PyTorch fp32 | mean abs. prob. diff | max | CARER class changed (windows) |")
    print("|---|---|---|---|---|---|")
    for name in candidates:
        pps = args.posts / statistics.median(seconds[name])
        diff = np.abs(probs[name] - reference)
        changed = float((probs[name][:, carer].argmax(1) != reference[:, carer].argmax(1)).mean())
        print(
            f"| {name} | {pps:,.1f} | {pps / base:.2f}x | {diff.mean():.4f} | {diff.max():.3f} | {100 * changed:.2f}% |"
        )
    sizes = {d: installed_mb(d) for d in ("torch", "onnxruntime", "onnx", "openvino")}
    print(
        "installed: "
        + ", ".join(f"{d} {mb:,.0f} MB" if mb is not None else f"{d} not installed" for d, mb in sizes.items())
    )


if __name__ == "__main__":
    main()
