"""Issue 12 item 11: tampered weights are refused, in one line naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.errors import ModelNotFound
from monitor.model.artifact import read_model_info
from monitor.model.predictor import load_model

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "emomon-mtl-v2"


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    """A copy of the shipped model with 4,096 bytes flipped in the middle of model.safetensors."""
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    weights.write_bytes(bytes(data))
    return copy


def test_flipped_weight_bytes_are_refused_naming_the_file(tampered: Path) -> None:
    with pytest.raises(ModelNotFound) as error:
        load_model(tampered, precision="fp32")
    message = str(error.value)
    assert "\n" not in message and str(tampered / "model.safetensors") in message and "SHA-256" in message


def test_the_cli_prints_one_line_and_no_traceback(tampered: Path, tmp_path: Path) -> None:
    emomon = Path(sys.executable).with_name("emomon")
    out = subprocess.run([str(emomon), "predict", "i feel sad", "--model", str(tampered)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "model.safetensors" in lines[0] and "Traceback" not in out.stderr


def test_version_is_derived_from_the_recorded_hash(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED, copy)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    recorded = config["weights"]["model.safetensors"]
    config["version"] = "emomon-mtl-v2+0000000000"  # a hand-edited version string is not believed
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert read_model_info(copy).version == f"emomon-mtl-v2+{recorded[:10]}"
    del config["weights"]
    (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="records no SHA-256"):
        read_model_info(copy)
