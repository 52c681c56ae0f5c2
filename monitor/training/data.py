"""Readers for the training datasets: CARER, GoEmotions, the author-disjoint myPersonality split,
and personal distress (Dreaddit, with validation carved from train by post, plus news headlines
as impersonal negatives)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.errors import ModelDataError
from monitor.model.network import BIG5_TRAITS

SPLITS = ("train", "validation", "test")
_GOEMOTIONS_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


@dataclass(frozen=True)
class TaskData:
    """Texts and targets of one task split. Targets: int [N] (carer) or {0,1} float [N, L]."""

    task: str
    split: str
    texts: list[str]
    targets: np.ndarray
    authors: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def _require(path: Path) -> Path:
    if not path.exists():
        raise ModelDataError(
            f"dataset file {str(path)!r} not found; set [model] datasets in config.toml or name another "
            "datasets directory",
            argument="datasets",
        )
    return path


def read_carer(root: Path, split: str) -> TaskData:
    """CARER jsonl: {"text", "label"} with labels 0-5."""
    texts, labels = [], []
    with _require(root / "carer_emotion" / f"{split}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return TaskData("carer", split, texts, np.asarray(labels, dtype=np.int64))


def read_goemotions(root: Path, split: str) -> TaskData:
    """GoEmotions tsv: text, comma-separated label indices, comment id."""
    texts, targets = [], []
    path = _require(root / "goemotions" / _GOEMOTIONS_FILES[split])
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            y = np.zeros(28, dtype=np.float32)
            y[[int(i) for i in parts[1].split(",")]] = 1.0
            texts.append(parts[0])
            targets.append(y)
    return TaskData("goemotions", split, texts, np.stack(targets))


def goemotions_as_carer(root: Path, split: str) -> TaskData:
    """GoEmotions posts whose only label is one of CARER's six emotions, labelled as CARER.

    The cross-domain check (the CARER head on Reddit comments) reads the test split; training can
    add the train split to CARER's tweets so the head sees the emotions in another style."""
    from monitor.labels import CARER_LABELS, GOEMOTIONS_LABELS

    source = read_goemotions(root, split)
    carer_of = {GOEMOTIONS_LABELS.index(name): i for i, name in enumerate(CARER_LABELS)}
    texts, labels = [], []
    for text, row in zip(source.texts, source.targets):
        (hits,) = np.nonzero(row)
        if len(hits) == 1 and int(hits[0]) in carer_of:
            texts.append(text)
            labels.append(carer_of[int(hits[0])])
    return TaskData("carer", split, texts, np.asarray(labels, dtype=np.int64))


def concat(first: TaskData, second: TaskData) -> TaskData:
    """Two splits of the same task as one (texts and targets in order)."""
    return TaskData(
        first.task, first.split, first.texts + second.texts, np.concatenate([first.targets, second.targets])
    )


def split_authors(
    authors: list[str], seed: int = 13, fractions: tuple[float, float] = (0.7, 0.15)
) -> dict[str, list[str]]:
    """Author-disjoint train/validation/test split with a fixed seed (sorted ids, then shuffled)."""
    unique = sorted(set(authors))
    order = np.random.default_rng(seed).permutation(len(unique))
    shuffled = [unique[i] for i in order]
    n_train = round(fractions[0] * len(unique))
    n_val = round(fractions[1] * len(unique))
    return {
        "train": sorted(shuffled[:n_train]),
        "validation": sorted(shuffled[n_train : n_train + n_val]),
        "test": sorted(shuffled[n_train + n_val :]),
    }


def read_mypersonality(root: Path, split: str, seed: int = 13) -> TaskData:
    """myPersonality statuses of the authors in `split` (author-disjoint), 5 binary traits."""
    rows = []
    with _require(root / "mypersonality" / "mypersonality.csv").open(
        encoding="utf-8", errors="replace", newline=""
    ) as fh:
        for row in csv.DictReader(fh):
            rows.append(row)
    author_key = "#AUTHID"
    split_ids = set(split_authors([r[author_key] for r in rows], seed)[split])
    texts, targets, authors = [], [], []
    for r in rows:
        if r[author_key] not in split_ids:
            continue
        texts.append(r["STATUS"])
        targets.append([1.0 if r[f"c{t}"].strip().lower() == "y" else 0.0 for t in BIG5_TRAITS])
        authors.append(r[author_key])
    return TaskData("big5", split, texts, np.asarray(targets, dtype=np.float32), authors)


#: Share of Dreaddit's train posts (whole posts, by ``post_id``) held out as the validation split.
DREADDIT_VALIDATION_SHARE = 0.15
#: Share of the affective headlines' trial part used for training; the rest is validation.
HEADLINES_TRAIN_SHARE = 0.6


def dreaddit_validation_posts(post_ids: list[str], seed: int = 13) -> set[str]:
    """The post ids of Dreaddit's train file held out for validation (fixed by ``seed``)."""
    unique = sorted(set(post_ids))
    order = np.random.default_rng([seed, 4242]).permutation(len(unique))
    return {unique[i] for i in order[: round(DREADDIT_VALIDATION_SHARE * len(unique))]}


def read_dreaddit(root: Path, split: str, seed: int = 13) -> TaskData:
    """Dreaddit segments of ``split``: label 1 = the author expresses their own stress/distress.

    Dreaddit has no validation split: it is carved from train by ``post_id`` (segments of one post
    stay together). Targets are float [N, 1]."""
    name = "test.csv" if split == "test" else "train.csv"
    with _require(root / "dreaddit" / name).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if split != "test":
        held_out = dreaddit_validation_posts([r["post_id"] for r in rows], seed)
        rows = [r for r in rows if (r["post_id"] in held_out) == (split == "validation")]
    texts = [r["text"] for r in rows]
    targets = np.asarray([[float(r["label"])] for r in rows], dtype=np.float32)
    return TaskData("distress", split, texts, targets)


def read_headlines(root: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Affective headlines of ``split`` and their sadness (0-100).

    ``test`` is the published test part; the trial part is divided by id into ``train`` (60%) and
    ``validation``. Nobody in a headline expresses their own distress."""
    texts, sadness = [], []
    with _require(root / "affective_headlines" / "headlines.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["split"] == "test":
                part = "test"
            else:
                part = "train" if (int(row["id"]) * 2654435761) % 1000 < HEADLINES_TRAIN_SHARE * 1000 else "validation"
            if part == split:
                texts.append(row["text"])
                sadness.append(float(row["sadness"]))
    return texts, np.asarray(sadness, dtype=np.float32)


def read_distress(root: Path, split: str, seed: int = 13) -> TaskData:
    """The distress task: Dreaddit segments, plus (train only) the training headlines as negatives."""
    data = read_dreaddit(root, split, seed)
    if split != "train":
        return data
    headlines, _ = read_headlines(root, "train")
    return TaskData(
        "distress",
        split,
        data.texts + headlines,
        np.concatenate([data.targets, np.zeros((len(headlines), 1), dtype=np.float32)]),
    )


def read_task(root: Path, task: str, split: str, seed: int = 13) -> TaskData:
    """Read one task split by name."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    readers = {"carer": read_carer, "goemotions": read_goemotions}
    if task == "big5":
        return read_mypersonality(root, split, seed)
    if task == "distress":
        return read_distress(root, split, seed)
    if task not in readers:
        raise ValueError(f"unknown task {task!r}")
    return readers[task](root, split)
