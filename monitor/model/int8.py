"""int8 inference on CPUs without native bf16: the network exported to ONNX, run by ONNX Runtime.

Chosen after measuring the candidates side by side on the same batches of GoEmotions test posts
(1,500 posts, 1 thread, AMD EPYC with AVX512-VNNI, medians of 3 interleaved passes): PyTorch fp32
137 posts/s; ``torch.ao`` dynamic int8 349 (2.55x; deprecated in favour of torchao); ONNX Runtime
fp32 261, dynamic int8 662 (4.83x; mean GoEmotions probability difference 0.014 from fp32).
OpenVINO was not measured (a 59 MB wheel against ONNX Runtime's 17 MB).

The int8 model is built from the shipped weights at the first int8 load and kept in a cache
directory keyed by the weights' SHA-256 and the ONNX Runtime version (``$EMOMON_CACHE_DIR``,
else ``$XDG_CACHE_HOME/emomon``, else ``~/.cache/emomon``): the fp32 network is exported with
``torch.onnx`` (fixed inputs, so the same weights give the same file), then ONNX Runtime's
dynamic quantisation turns the encoder's weight matmuls into int8 (weights per output channel,
activations per batch); embeddings, LayerNorms, softmax and the task heads stay fp32. The
cache holds the ONNX file (protobuf, no pickle), its SHA-256, and the fp32 network's outputs on
a fixed probe batch; every load checks the file's hash and compares the int8 outputs on that
batch with the fp32 ones (milliseconds, no fp32 forward). Any failure logs one line and the
caller falls back to fp32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monitor.model.activations import sigmoid, softmax
from monitor.model.network import MultitaskNetwork

log = logging.getLogger(__name__)

FORMAT = "emomon-int8/1"
#: Outputs of the exported graph, in order.
OUTPUTS = ("goemotions", "carer", "big5", "pooled")
#: Texts of the load-time check: everyday posts of different lengths and emotions.
PROBE_TEXTS = (
    "i feel so alone tonight and nothing seems to help",
    "Thank you all so much, this made my whole week!",
    "ugh, the train is late AGAIN",
    "I'm scared about the results tomorrow but trying to stay hopeful.",
    "lol that's hilarious",
    "My grandmother passed away this morning. I keep thinking about the summers at her house.",
    "not sure what to think about the new policy, need to read more",
    "so proud of my little brother for finishing his first marathon",
)
#: Largest mean absolute difference of the heads' probabilities from fp32 on the probe batch.
#: The shipped model's int8 build measures 0.007 there (0.014 over 1,500 GoEmotions test posts);
#: wrong weights or a broken kernel give 0.1 and more.
CHECK_TOLERANCE = 0.04


def cache_root() -> Path:
    """Where int8 models are kept: $EMOMON_CACHE_DIR, $XDG_CACHE_HOME/emomon or ~/.cache/emomon."""
    if os.environ.get("EMOMON_CACHE_DIR"):
        return Path(os.environ["EMOMON_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "emomon"


def runtime_version() -> str | None:
    """ONNX Runtime's version, or None when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return str(onnxruntime.__version__)


def cache_dir(weights_sha256: str, root: Path | None = None) -> Path:
    """The cache directory of the int8 model built from weights with this SHA-256."""
    return (root or cache_root()) / "int8" / f"{weights_sha256[:16]}-ort{runtime_version()}"


class _Heads(nn.Module):
    """The network as a graph with tensor outputs (what torch.onnx exports)."""

    def __init__(self, network: MultitaskNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.network.pooled(input_ids, attention_mask)
        heads = self.network.heads(pooled)
        return heads["goemotions"], heads["carer"], heads["big5"], pooled


def head_probabilities(logits: dict[str, np.ndarray]) -> np.ndarray:
    """All heads' probabilities side by side (temperature 1), for comparing two forwards."""
    return np.concatenate([sigmoid(logits["goemotions"]), softmax(logits["carer"], 1.0),
                           sigmoid(logits["big5"])], axis=1)


def export_int8(network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor], out: Path,
                weights_sha256: str) -> None:
    """Write the int8 model of ``network`` (fp32, eval mode) and its check data to ``out``.

    Written to a temporary directory beside ``out`` and renamed, so a crash leaves no half model.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        fp32 = scratch / "model.fp32.onnx"
        export_onnx(network, probe, fp32)
        model = scratch / "model.onnx"
        quantize_dynamic(str(fp32), str(model), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=head_nodes(fp32))
        fp32.unlink()
        with torch.inference_mode():
            reference = network(*probe)
        meta = {"format": FORMAT, "weights_sha256": weights_sha256, "onnxruntime": runtime_version(),
                "torch": torch.__version__, "quantization": "dynamic, int8 weights per channel, MatMul only",
                "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                "probe_input_ids": probe[0].tolist(), "probe_attention_mask": probe[1].tolist(),
                "probe_probabilities": head_probabilities(
                    {k: reference[k].float().numpy() for k in ("goemotions", "carer", "big5")}).tolist()}
        (scratch / "int8.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            scratch.rename(out)
        except OSError:  # another process built it first: keep theirs
            if not (out / "int8.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_onnx(network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor], path: Path) -> None:
    """Write ``network`` (fp32, eval mode) as an fp32 ONNX graph: token ids and mask in (any batch
    and length), the heads' logits and the pooled vector out (:data:`OUTPUTS`)."""
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore")
        torch.onnx.export(_Heads(network).eval(), probe, str(path), input_names=["input_ids", "attention_mask"],
                          output_names=list(OUTPUTS), opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}})


def head_nodes(path: Path) -> list[str]:
    """Names of the exported graph's nodes outside the encoder (heads, branches, gates), which
    stay in fp32: they are small, and the heads' outputs are what a score is made of."""
    import onnx

    prefixes = ["goemotions_head", "carer_head", "big5_head", "embedding", "branches"]
    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if any(f"/{p}" in n.name for p in prefixes)]


@dataclass
class OrtNetwork:
    """An int8 network run by ONNX Runtime, called like the torch network by the forward loop."""

    session: Any  # onnxruntime.InferenceSession
    config: Any  # the network's NetworkConfig

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        values = self.session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        return {name: torch.from_numpy(v) for name, v in zip(OUTPUTS, values)}

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids [B, T] -> sentence vector [B, H]."""
        return self(input_ids, attention_mask)["pooled"]

    def eval(self) -> OrtNetwork:
        return self


def open_session(model: bytes, threads: int) -> Any:
    """An ONNX Runtime CPU session over the ONNX bytes ``model`` using ``threads`` threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def check_gap(runtime: OrtNetwork, meta: dict[str, Any]) -> float:
    """Mean absolute difference of the int8 heads' probabilities from the fp32 ones on the probe batch."""
    ids = torch.tensor(meta["probe_input_ids"], dtype=torch.int64)
    mask = torch.tensor(meta["probe_attention_mask"], dtype=torch.int64)
    out = runtime(ids, mask)
    actual = head_probabilities({k: out[k].numpy() for k in ("goemotions", "carer", "big5")})
    return float(np.abs(actual - np.asarray(meta["probe_probabilities"])).mean())


def load_int8(network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor], weights_sha256: str,
              *, threads: int | None = None, root: Path | None = None) -> OrtNetwork | None:
    """The checked int8 network of ``network``, built into the cache on first use; None (with the
    reason logged) when ONNX Runtime is missing, the build fails or the check fails."""
    if runtime_version() is None:
        log.warning("int8 not used: onnxruntime is not installed (pip install onnxruntime); running fp32")
        return None
    where = cache_dir(weights_sha256, root)
    try:
        if not (where / "int8.json").is_file():
            log.info("building the int8 model in %s (once per model)", where)
            export_int8(network, probe, where, weights_sha256)
        meta = json.loads((where / "int8.json").read_text(encoding="utf-8"))
        data = (where / "model.onnx").read_bytes()
        if meta.get("format") != FORMAT or hashlib.sha256(data).hexdigest() != meta.get("model_sha256"):
            log.warning("int8 not used: %s does not match its recorded SHA-256 (delete that directory to "
                        "rebuild it); running fp32", where / "model.onnx")
            return None
        runtime = OrtNetwork(open_session(data, threads or torch.get_num_threads()), network.config)
        gap = check_gap(runtime, meta)
    except Exception as error:  # noqa: BLE001  (any export or runtime failure means: use fp32)
        log.warning("int8 not used: %s: %s; running fp32", type(error).__name__, str(error).splitlines()[0][:200])
        return None
    if gap > CHECK_TOLERANCE:
        log.warning("int8 not used: differs from the fp32 forward by %.3f (mean probability) on the check "
                    "batch, more than %.2f; running fp32", gap, CHECK_TOLERANCE)
        return None
    return runtime
