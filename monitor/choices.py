"""Closed sets of values shared by the settings models and the command line, defined once.

The settings declare these ``Literal`` types; the CLI's ``click.Choice`` lists and the checks in
:mod:`monitor.model.device` derive from them. This module imports nothing heavy, so commands
can build their options without loading pydantic or torch.
"""

from __future__ import annotations

from typing import Literal, get_args

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "bf16", "int8", "fp32"]
ScoringEngine = Literal["local", "ray"]
#: "feed" is RSS/Atom over HTTP or from a file; the rest are files and platform archives.
SourceKind = Literal["feed", "jsonl", "csv", "parquet", "mastodon", "x", "reddit"]

#: Where a model runs ([scoring] device, --device).
DEVICES: tuple[str, ...] = get_args(Device)
#: The precisions a model scores in ([scoring] precision, --precision).
PRECISIONS: tuple[str, ...] = get_args(Precision)
#: The precisions training runs in: int8 is an inference runtime, not a training one.
TRAIN_PRECISIONS: tuple[str, ...] = tuple(p for p in PRECISIONS if p != "int8")
#: Where `emomon score` runs ([scoring] engine, --engine).
SCORING_ENGINES: tuple[str, ...] = get_args(ScoringEngine)
#: The formats emomon reads ([[sources]] kind, --format).
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
