"""Dataset readers and the author-disjoint myPersonality split."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ModelDataError
from monitor.training.data import read_task, split_authors

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
needs_data = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is not present beside the repo")


def test_split_is_author_disjoint_and_fixed_by_seed():
    authors = [f"u{i}" for i in range(100)] * 3
    a = split_authors(authors, seed=13)
    assert split_authors(authors, seed=13) == a
    assert split_authors(authors, seed=14) != a
    sets = [set(a[s]) for s in ("train", "validation", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(len(s) for s in sets) == 100 and len(sets[0]) == 70


def test_missing_dataset_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(ModelDataError, match=r"carer_emotion.*\[model\] datasets"):
        read_task(tmp_path, "carer", "train")


def test_readers_parse_files_we_write(tmp_path):
    (tmp_path / "carer_emotion").mkdir()
    (tmp_path / "carer_emotion" / "validation.jsonl").write_text('{"text": "i feel low", "label": 0}\n')
    (tmp_path / "goemotions").mkdir()
    (tmp_path / "goemotions" / "dev.tsv").write_text("so glad\t17,0\tid1\nhmm\t27\tid2\n")
    carer = read_task(tmp_path, "carer", "validation")
    goemo = read_task(tmp_path, "goemotions", "validation")
    assert carer.texts == ["i feel low"] and carer.targets.tolist() == [0]
    assert goemo.targets[0, [0, 17]].tolist() == [1.0, 1.0] and goemo.targets[0].sum() == 2
    assert goemo.targets[1, 27] == 1.0


@needs_data
def test_real_mypersonality_splits_share_no_author():
    splits = {s: read_task(DATASETS, "big5", s) for s in ("train", "validation", "test")}
    authors = {s: set(d.authors or []) for s, d in splits.items()}
    assert not (authors["train"] & authors["test"]) and not (authors["train"] & authors["validation"])
    assert sum(len(d) for d in splits.values()) == 9917
    assert splits["train"].targets.shape[1] == 5
