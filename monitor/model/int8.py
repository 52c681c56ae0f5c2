"""int8 inference on CPUs without native bf16: the network exported to ONNX, run by ONNX Runtime.

Chosen after measuring the candidates side by side on the same batches of GoEmotions test posts
(1,500 posts, 1 thread, AMD EPYC with AVX512-VNNI, medians of 3 interleaved passes): PyTorch fp32
137 posts/s; ``torch.ao`` dynamic int8 349 (2.55x; deprecated in favour of torchao); ONNX Runtime
fp32 261, dynamic int8 662 (4.83x; mean GoEmotions probability difference 0.014 from fp32).
OpenVINO was not measured (a 59 MB wheel against ONNX Runtime's 17 MB).

The int8 model is built from the shipped weights at the first int8 load and kept in a cache
directory keyed by the model's content hash (:attr:`monitor.model.artifact.ModelInfo.digest`),
the ONNX Runtime version and :data:`FORMAT` (``$EMOMON_CACHE_DIR``, else
``$XDG_CACHE_HOME/emomon``, else ``~/.cache/emomon``): the fp32 network is exported with
``torch.onnx`` (fixed inputs, so the same weights give the same file); for a BERT encoder,
ONNX Runtime's transformer optimizer then fuses the op-by-op export into its fused kernels (one
Attention per layer with Q, K and V in one matmul, SkipLayerNormalization for each residual add
and LayerNorm, BiasGelu); finally ONNX Runtime's dynamic quantisation turns the encoder's weight
matmuls, the fused attentions' included, into int8 (weights per output channel, activations per
batch). Embeddings, LayerNorms, softmax, the pooling and everything after it (branches, heads,
the distress head's token evidence) stay fp32: only nodes the pooled vector depends on are
quantised (:func:`encoder_nodes`), whatever names the optimizer gives them.

Nothing in the cache vouches for itself. The cache is used only where no other user can change
it: the cache directory, the directories above it and the files in it must belong to this user
(or root); neither the cache directory nor anything in it may be writable by group or others
(above it, only sticky directories such as /tmp may); otherwise int8 is refused with one line
naming the path and the fix. Every load then checks the ONNX file against its recorded SHA-256
(a damaged file) and runs :data:`PROBE_TEXTS` through both the int8 graph and the fp32 network
just loaded from the checked weights (a fraction of a second): the int8 probabilities must stay
within :data:`CHECK_TOLERANCE` on average and :data:`CHECK_MAX_TOLERANCE` everywhere, so a graph
that moves one emotion is refused as surely as one that moves them all. Any failure logs one line
and the caller falls back to fp32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
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

#: Version of the cache layout and build recipe: a cache of another format is rebuilt.
FORMAT = "emomon-int8/3"
#: Outputs of the exported graph, in order: the network's heads (``NetworkConfig.heads``), then this.
POOLED = "pooled"
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
#: Largest difference of any one probability from fp32 on the probe batch. The shipped model's
#: int8 build measures 0.10 there (0.18 on random token sequences); a graph that silences one
#: emotion moves it by far more, while the mean over the batch's 312 probabilities barely moves.
CHECK_MAX_TOLERANCE = 0.3


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


def cache_dir(model_sha256: str, root: Path | None = None) -> Path:
    """The cache directory of the int8 model of the model directory with this content hash, for
    this ONNX Runtime and :data:`FORMAT`: a new format builds anew beside the old caches."""
    version = FORMAT.rsplit("/", 1)[1]
    return (root or cache_root()) / "int8" / f"{model_sha256[:16]}-ort{runtime_version()}-f{version}"


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each readable and writable by this user only."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def unsafe_cache(root: Path, where: Path) -> str | None:
    """Why another user could change what is read from ``where`` (inside the cache ``root``), or
    None when nobody but this user and root can.

    The directories above ``root`` must belong to this user or root and may be writable by others
    only when sticky (like /tmp); ``root``, the directories down to ``where`` and the regular files
    in ``where`` must belong to this user or root and be writable by neither group nor others.
    """
    if not hasattr(os, "geteuid"):  # no POSIX ownership to check (Windows)
        return None
    me = os.geteuid()
    relative = where.relative_to(root)
    root = root.resolve()
    where = root / relative
    inside = [where, *[p for p in where.parents if p.is_relative_to(root)]]
    files = [where / "int8.json", where / "model.onnx"]
    checks = [(p, True) for p in reversed(root.parents)] + [(p, False) for p in [*reversed(inside), *files]]
    for path, above in checks:
        if not os.path.lexists(path):
            continue
        info = os.lstat(path)
        if info.st_uid not in (me, 0):
            return f"{path} belongs to another user (uid {info.st_uid})"
        if path in files and not stat.S_ISREG(info.st_mode):
            return f"{path} is not a regular file"
        if info.st_mode & 0o022 and not (above and info.st_mode & stat.S_ISVTX):
            return f"{path} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


class _Heads(nn.Module):
    """The network as a graph with tensor outputs (what torch.onnx exports)."""

    def __init__(self, network: MultitaskNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        heads, pooled = self.network.outputs(input_ids, attention_mask)
        return (*(heads[name] for name in self.network.config.heads), pooled)


def head_probabilities(logits: dict[str, np.ndarray]) -> np.ndarray:
    """All heads' probabilities side by side (temperature 1), for comparing two forwards."""
    parts = [sigmoid(logits["goemotions"]), softmax(logits["carer"], 1.0), sigmoid(logits["big5"])]
    if "distress" in logits:
        parts.append(sigmoid(logits["distress"]))
    return np.concatenate(parts, axis=1)


def export_int8(
    network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor], out: Path, model_sha256: str
) -> None:
    """Write the int8 model of ``network`` (fp32, eval mode) and its description to ``out``.

    Written to a private temporary directory beside ``out`` and renamed, so a crash leaves no half
    model; the files are readable by all and writable by this user only.
    """
    make_private_dirs(out.parent)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        fp32 = scratch / "model.fp32.onnx"
        export_onnx(network, probe, fp32)
        fused = fuse_onnx(fp32, scratch / "model.fused.onnx", network.encoder.config)
        model = scratch / "model.onnx"
        quantize_encoder(fused or fp32, model)
        for file in (fp32, scratch / "model.fused.onnx"):
            file.unlink(missing_ok=True)
        meta = {
            "format": FORMAT,
            "model_directory_sha256": model_sha256,
            "onnxruntime": runtime_version(),
            "torch": torch.__version__,
            "fusion": "onnxruntime.transformers bert" if fused else "none",
            "quantization": "dynamic, int8 weights per channel, the encoder's MatMul and Attention",
            "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        }
        (scratch / "int8.json").write_text(json.dumps(meta), encoding="utf-8")
        for file in (model, scratch / "int8.json"):
            file.chmod(0o644)
        try:
            scratch.rename(out)
        except OSError:  # another process built it first: keep theirs
            if not (out / "int8.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_onnx(network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor], path: Path) -> None:
    """Write ``network`` (fp32, eval mode) as an fp32 ONNX graph: token ids and mask in (any batch
    and length), the heads' logits and the pooled vector out (``config.heads``, then :data:`POOLED`)."""
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Heads(network).eval(),
            probe,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[*network.config.heads, POOLED],
            opset_version=17,
            dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
        )


def fuse_onnx(source: Path, target: Path, config: Any) -> Path | None:
    """Write ``source`` (the exported fp32 graph) with ONNX Runtime's BERT fusions to ``target``;
    None (``source`` is then quantised as it is) for an encoder that is not BERT.

    Only the optimizer's own pattern fusions run (``opt_level=0``); the session applies ONNX
    Runtime's graph optimisations for the machine it runs on. Nodes the fusions create without a
    name are named, so every node can be told apart."""
    if getattr(config, "model_type", None) != "bert":
        return None
    from onnxruntime.transformers.optimizer import optimize_model

    optimizer_log = logging.getLogger("onnxruntime.transformers")
    level = optimizer_log.level
    optimizer_log.setLevel(logging.WARNING)  # it logs every fusion it tries at INFO
    try:
        model = optimize_model(
            str(source),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=0,
        )
    finally:
        optimizer_log.setLevel(level)
    taken = {n.name for n in model.model.graph.node}
    for i, node in enumerate(model.model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_unnamed_{i}"
            while node.name in taken:
                node.name += "_"
            taken.add(node.name)
    model.save_model_to_file(str(target))
    return target


def quantize_encoder(source: Path, target: Path) -> None:
    """Write ``source`` with the encoder's weight products (MatMul, fused Attention) in int8 to
    ``target``: weights per output channel, activations per batch; :func:`encoder_nodes` only."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        nodes_to_quantize=encoder_nodes(source),
        # ONNX's shape inference does not know the fused ops' outputs; every tensor here is fp32.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def encoder_nodes(path: Path) -> list[str]:
    """Names of the graph's nodes that the pooled output (:data:`POOLED`) depends on: the
    encoder and the pooling, found by following the graph back from that output, so renamed or
    fused nodes are found as surely as exported ones."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {output: i for i, node in enumerate(graph.node) for output in node.output}
    needed: set[int] = set()
    todo = [POOLED]
    while todo:
        i = producer.get(todo.pop())
        if i is None or i in needed:
            continue
        needed.add(i)
        todo.extend(graph.node[i].input)
    return [graph.node[i].name for i in sorted(needed)]


def head_nodes(path: Path) -> list[str]:
    """Names of the graph's nodes outside the encoder (branches, gates, heads, the distress
    head's token evidence), which stay in fp32: they are small, and the heads' outputs are what
    a score is made of. Everything :func:`encoder_nodes` does not name."""
    import onnx

    inside = set(encoder_nodes(path))
    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.name not in inside]


@dataclass
class OrtNetwork:
    """An int8 network run by ONNX Runtime, called like the torch network by the forward loop."""

    session: Any  # onnxruntime.InferenceSession
    config: Any  # the network's NetworkConfig

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        values = self.session.run(None, {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        return {output.name: torch.from_numpy(v) for output, v in zip(self.session.get_outputs(), values)}

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids [B, T] -> sentence vector [B, H]."""
        return self(input_ids, attention_mask)[POOLED]

    def eval(self) -> OrtNetwork:
        return self


def open_session(model: bytes, threads: int) -> Any:
    """An ONNX Runtime CPU session over the ONNX bytes ``model`` using ``threads`` threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def check_gap(
    runtime: OrtNetwork, network: MultitaskNetwork, probe: tuple[torch.Tensor, torch.Tensor]
) -> tuple[float, float]:
    """Mean and largest absolute difference of the int8 heads' probabilities from those of the
    fp32 ``network`` on the probe batch, both computed now."""
    with torch.inference_mode():
        reference = network(*probe)
    out = runtime(*probe)
    heads = network.config.heads
    gap = np.abs(
        head_probabilities({k: out[k].numpy() for k in heads})
        - head_probabilities({k: reference[k].float().numpy() for k in heads})
    )
    return float(gap.mean()), float(gap.max())


def load_int8(
    network: MultitaskNetwork,
    probe: tuple[torch.Tensor, torch.Tensor],
    model_sha256: str,
    *,
    threads: int | None = None,
    root: Path | None = None,
) -> OrtNetwork | None:
    """The checked int8 network of ``network`` (fp32, from the checked model directory whose
    content hash is ``model_sha256``), built into the cache on first use; None (with the reason
    logged in one line) when ONNX Runtime is missing, the cache could be changed by another user,
    the build fails, or the int8 graph does not compute what ``network`` does."""
    if runtime_version() is None:
        log.warning("int8 not used: onnxruntime is not installed (pip install onnxruntime); running fp32")
        return None
    root = root or cache_root()
    where = cache_dir(model_sha256, root)
    try:
        make_private_dirs(root)
        problem = unsafe_cache(root, where)
        if problem is None and not (where / "int8.json").is_file():
            log.info("building the int8 model in %s (once per model)", where)
            export_int8(network, probe, where, model_sha256)
            problem = unsafe_cache(root, where)
        if problem is not None:
            log.warning(
                "int8 not used: the model cache is not private: %s; fix: make it yours and writable by "
                "you only (chown, chmod go-w), or set EMOMON_CACHE_DIR to a directory only you can write; "
                "running fp32",
                problem,
            )
            return None
        meta = json.loads((where / "int8.json").read_text(encoding="utf-8"))
        data = (where / "model.onnx").read_bytes()
        if (
            meta.get("format") != FORMAT
            or meta.get("model_directory_sha256") != model_sha256
            or hashlib.sha256(data).hexdigest() != meta.get("model_sha256")
        ):
            log.warning(
                "int8 not used: %s does not match its recorded SHA-256 (delete that directory to "
                "rebuild it); running fp32",
                where / "model.onnx",
            )
            return None
        runtime = OrtNetwork(open_session(data, threads or torch.get_num_threads()), network.config)
        mean, largest = check_gap(runtime, network, probe)
    except Exception as error:  # noqa: BLE001  (any export or runtime failure means: use fp32)
        log.warning(
            "int8 not used: %s: %s; running fp32", type(error).__name__, (str(error).splitlines() or [""])[0][:200]
        )
        return None
    if mean > CHECK_TOLERANCE or largest > CHECK_MAX_TOLERANCE:
        log.warning(
            "int8 not used: %s differs from the fp32 forward of the checked weights by %.3f on average "
            "and %.3f at most (probabilities on the check batch; limits %.2f and %.2f): delete that "
            "directory to rebuild it; running fp32",
            where,
            mean,
            largest,
            CHECK_TOLERANCE,
            CHECK_MAX_TOLERANCE,
        )
        return None
    return runtime
