"""Only the genuine model scores.

Issue 12 item 11: tampered weights are refused, in one line naming the file. Issue 21 item 3:
every file that changes a score (calibration, labels, config, tokenizer, encoder config) is
checked and part of the version; a planted int8 cache cannot vouch for itself; a cache other
users can write is not used; a window that cannot hold a token of text is refused at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hostile.conftest import config_here
from tiny_model import build_tiny_model

from monitor.errors import ModelNotFound
from monitor.model.artifact import content_digest, read_model_info, read_network, seal
from monitor.model.int8 import (
    CHECK_MAX_TOLERANCE,
    CHECK_TOLERANCE,
    OrtNetwork,
    cache_dir,
    check_gap,
    export_int8,
    head_probabilities,
    open_session,
)
from monitor.model.predictor import load_model, split_windows

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "emomon-mtl-v3"


@pytest.fixture(autouse=True)
def _config(tmp_path: Path) -> None:
    """An empty config.toml (every setting at its default) where the CLI runs."""
    (tmp_path / "config.toml").write_text("", encoding="utf-8")


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    """A copy of the shipped model with 4,096 bytes flipped in the middle of model.safetensors."""
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    weights.write_bytes(bytes(data))
    return copy


def test_flipped_weight_bytes_are_refused_naming_the_file(tampered: Path) -> None:
    with pytest.raises(ModelNotFound) as error:
        load_model(tampered, precision="fp32")
    message = str(error.value)
    assert "\n" not in message and str(tampered / "model.safetensors") in message and "SHA-256" in message


def test_the_cli_prints_one_line_and_no_traceback(tampered: Path, tmp_path: Path) -> None:
    emomon = Path(sys.executable).with_name("emomon")
    config_here(tmp_path)
    out = subprocess.run(
        [str(emomon), "predict", "i feel sad", "--model", str(tampered)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "model.safetensors" in lines[0] and "Traceback" not in out.stderr


def test_version_is_derived_from_config_and_the_recorded_hashes(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED, copy)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    assert read_model_info(copy).version == f"emomon-mtl-v3+{content_digest(config)[:10]}" == config["version"]
    config["version"] = "emomon-mtl-v3+0000000000"  # a hand-edited version string is refused
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="config.json.*does not match the version it records"):
        read_model_info(copy)
    del config["files"]
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="records no SHA-256"):
        read_model_info(copy)


# -- every file that changes a score -------------------------------------------------------------


def _edit_json(path: Path, change: Callable[[Any], None]) -> None:
    """Rewrite the JSON file ``path`` (a hard link: replaced, never written into) after ``change``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.unlink()
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _append_space(path: Path) -> None:
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data + b" ")  # same JSON, other bytes


def _shift_b(data: Any) -> None:
    data["depression_index"]["b"] -= 12  # turned 0.989 into 0.005 under the same version


def _swap_carer(data: Any) -> None:
    data["carer"][0], data["carer"][1] = data["carer"][1], data["carer"][0]


#: file -> an edit that changes what the model computes (or only the file's bytes).
EDITS: dict[str, Callable[[Path], None]] = {
    "calibration.json": lambda p: _edit_json(p, _shift_b),
    "labels.json": lambda p: _edit_json(p, _swap_carer),
    "config.json": lambda p: _edit_json(p, lambda d: d.update(window=64)),
    "encoder/config.json": lambda p: _edit_json(p, lambda d: d.update(layer_norm_eps=0.1)),
    "tokenizer/tokenizer_config.json": lambda p: _edit_json(p, lambda d: d.update(pad_token="[UNK]")),
    "tokenizer/tokenizer.json": _append_space,
}


def _linked_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED, copy, copy_function=os.link)  # 46 MB of weights shared, not copied
    return copy


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edited_scored_file_is_refused_in_one_line(
    tmp_path: Path, name: str, emomon: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    copy = _linked_copy(tmp_path)
    EDITS[name](copy / name)
    out = emomon(tmp_path, "predict", "i feel so alone tonight", "--model", str(copy), "--device", "cpu")
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and "Traceback" not in out.stderr and out.stdout == "", out.stderr
    assert len(lines) == 1 and str(copy / name) in lines[0], out.stderr
    assert "restore the model directory or re-export it with `emomon train --export`" in lines[0]


@pytest.mark.parametrize("name", list(EDITS))
def test_a_resealed_edit_is_a_new_version(tmp_path: Path, name: str) -> None:
    """Hashes recorded again by the project's own code: the directory loads, under a new version,
    so stored scores of the genuine model are never mixed with the edited model's."""
    copy = _linked_copy(tmp_path)
    (copy / "config.json").unlink()
    shutil.copy(SHIPPED / "config.json", copy / "config.json")
    EDITS[name](copy / name)
    assert seal(copy) == read_model_info(copy).version != read_model_info(SHIPPED).version


# -- the int8 cache ------------------------------------------------------------------------------

INT8_ENV = {"EMOMON_SCORING_PRECISION": "int8", "EMOMON_SCORING_DEVICE": "cpu"}
TEXTS = ["i am so sad and lonely today", "happy joy love", "afraid scared " * 30]


def _predict(
    emomon: Callable[..., subprocess.CompletedProcess[str]], cwd: Path, model: Path, cache: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    """``emomon predict --json`` of TEXTS with int8 asked for: (results, stderr's lines)."""
    out = emomon(
        cwd, "predict", *TEXTS, "--model", str(model), "--json", env={**INT8_ENV, "EMOMON_CACHE_DIR": str(cache)}
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    lines = [
        line for line in out.stderr.splitlines() if line.strip() and "pre-processing before quantization" not in line
    ]
    return [json.loads(line) for line in out.stdout.splitlines()], lines


def _same_scores(results: list[dict[str, Any]], genuine: list[dict[str, Any]]) -> None:
    for got, want in zip(results, genuine, strict=True):
        assert got["goemotions"] == pytest.approx(want["goemotions"], abs=1e-5)
        assert got["depression_index"] == pytest.approx(want["depression_index"], abs=1e-5)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return build_tiny_model(tmp_path / "tiny")


def test_a_planted_int8_cache_cannot_vouch_for_itself(
    tmp_path: Path, tiny: Path, emomon: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """A graph that silences sadness, with an int8.json that records its hash and its own outputs
    as the reference, planted where the genuine build belongs: refused, genuine scores."""
    info, genuine = read_model_info(tiny), load_model(tiny, device="cpu", precision="fp32")
    probe = genuine._probe_batch()
    planted = read_network(info)
    sadness = list(planted.config.goemotions_labels).index("sadness")
    with torch.no_grad():
        planted.goemotions_head.bias[sadness] -= 30.0
    cache = tmp_path / "cache"
    where = cache_dir(info.digest, cache)
    export_int8(planted, probe, where, info.digest)
    runtime = OrtNetwork(open_session((where / "model.onnx").read_bytes(), 1), planted.config)
    outputs = runtime(*probe)
    meta = json.loads((where / "int8.json").read_text(encoding="utf-8"))
    meta.update(
        probe_input_ids=probe[0].tolist(),
        probe_attention_mask=probe[1].tolist(),
        probe_probabilities=head_probabilities(
            {k: outputs[k].numpy() for k in ("goemotions", "carer", "big5")}
        ).tolist(),
    )
    (where / "int8.json").write_text(json.dumps(meta), encoding="utf-8")
    mean, largest = check_gap(runtime, genuine.network, probe)
    assert mean < CHECK_TOLERANCE < CHECK_MAX_TOLERANCE < largest  # targeted: only one emotion moves

    results, lines = _predict(emomon, tmp_path, tiny, cache)
    assert len(lines) == 1 and "int8 not used" in lines[0] and "differs from the fp32 forward" in lines[0], lines
    _same_scores(results, genuine.predict(TEXTS))
    assert results[0]["goemotions"]["sadness"] > 0.05  # not silenced


def _open_to_others(case: str, cache: Path, where: Path) -> Path:
    """Make the cache (holding a genuine build in ``where``) writable by others as ``case`` says;
    returns the path the refusal names."""
    nobody = 65534
    if case == "world-writable cache":
        cache.chmod(0o777)
        return cache
    if case == "world-writable cache owned by another user":
        cache.chmod(0o777)
        os.chown(cache, nobody, nobody)
        return cache
    if case == "build owned by another user":
        os.chown(where, nobody, nobody)
        return where
    (where / "model.onnx").chmod(0o664)  # "group-writable int8 file"
    return where / "model.onnx"


UNSAFE = (
    "world-writable cache",
    "world-writable cache owned by another user",
    "build owned by another user",
    "group-writable int8 file",
)


@pytest.mark.parametrize("case", UNSAFE)
def test_a_cache_other_users_can_write_is_not_used(
    tmp_path: Path, tiny: Path, case: str, emomon: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    if "another user" in case and os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    cache = tmp_path / "cache"
    genuine = load_model(tiny, device="cpu", precision="fp32")
    where = cache_dir(read_model_info(tiny).digest, cache)
    export_int8(genuine.network, genuine._probe_batch(), where, read_model_info(tiny).digest)  # a genuine build
    named = _open_to_others(case, cache, where).resolve()
    results, lines = _predict(emomon, tmp_path, tiny, cache)
    assert len(lines) == 1 and "int8 not used: the model cache is not private" in lines[0], lines
    assert str(named) in lines[0] and "EMOMON_CACHE_DIR" in lines[0]
    _same_scores(results, genuine.predict(TEXTS))


def test_a_cache_built_under_a_group_writable_umask_is_private_and_used(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMOMON_CACHE_DIR", str(tmp_path / "new" / "cache"))
    old = os.umask(0o002)
    try:
        assert load_model(tiny, device="cpu", precision="int8").precision == "int8"
    finally:
        os.umask(old)
    for path in [tmp_path / "new", *(tmp_path / "new").rglob("*")]:
        assert path.stat().st_mode & 0o022 == 0, path


# -- windows -------------------------------------------------------------------------------------


def _with_window(model: Path, window: object, *, reseal: bool = True) -> None:
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["window"] = window
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if reseal:
        seal(model)


def test_window_zero_is_refused_at_once(tmp_path: Path, tiny: Path) -> None:
    """``"window": 0`` looped for ever, growing 100 MB/s; now one line, before any post is read."""
    _with_window(tiny, 0)
    emomon = Path(sys.executable).with_name("emomon")
    config_here(tmp_path)
    out = subprocess.run(
        [str(emomon), "predict", "i feel sad today " * 40, "--model", str(tiny)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and "Traceback" not in out.stderr and len(lines) == 1, out.stderr
    assert str(tiny / "config.json") in lines[0] and '"window": 0' in lines[0] and "from 3 to 64" in lines[0]


@pytest.mark.parametrize("window", [2, 1, -5, 65, 10**9, 1.5, "128", True, None])
def test_a_window_no_post_fits_is_refused(tiny: Path, window: object) -> None:
    _with_window(tiny, window)
    with pytest.raises(ModelNotFound, match='"window"') as error:
        load_model(tiny, device="cpu", precision="fp32")
    assert "\n" not in str(error.value) and "re-export" in str(error.value)


def test_a_hand_edited_window_is_a_changed_config(tiny: Path) -> None:
    _with_window(tiny, 0, reseal=False)
    with pytest.raises(ModelNotFound, match="config.json.*does not match the version it records"):
        read_model_info(tiny)


def test_split_windows_refuses_a_window_without_room_for_text() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        split_windows(list(range(500)), 2, 64)
