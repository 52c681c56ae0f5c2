"""Build score frames that follow the read_scores column contract, for trend/alert/report tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import polars as pl

GOEMOTIONS = (
    "admiration amusement anger annoyance approval caring confusion curiosity desire "
    "disappointment disapproval disgust embarrassment excitement fear gratitude grief joy love "
    "nervousness optimism pride realization relief remorse sadness surprise neutral"
).split()
CARER = ["sadness", "joy", "love", "anger", "fear", "surprise"]
BIG5 = ["ext", "neu", "agr", "con", "opn"]
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def score_frame(rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    """A score frame from row dicts; missing score columns get neutral defaults.

    Each row needs ``author`` (or None), ``created_at`` and ``depression_index``; ``post_id``
    defaults to the row number + 1, ``source`` to "feed-a", other scores to 0.1 / 0.5.
    """
    out = []
    for i, row in enumerate(rows):
        r: dict[str, object] = {
            "post_id": i + 1,
            "source": "feed-a",
            "model_version": "test-v1",
        }
        for g in GOEMOTIONS:
            r[f"goemo_{g}"] = 0.1
        for c in CARER:
            r[f"carer_{c}"] = 0.1
        for b in BIG5:
            r[f"big5_{b}"] = 0.5
        r.update(row)
        out.append(r)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "post_id": pl.Int64,
        "source": pl.String,
        "author": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "model_version": pl.String,
        "depression_index": pl.Float32,
    }
    schema |= {f"goemo_{g}": pl.Float32 for g in GOEMOTIONS}
    schema |= {f"carer_{c}": pl.Float32 for c in CARER}
    schema |= {f"big5_{b}": pl.Float32 for b in BIG5}
    return pl.DataFrame(out, schema=schema)


def stream(
    author: str | None,
    values: Iterable[float],
    *,
    start: datetime = T0,
    every: timedelta = timedelta(hours=12),
    source: str = "feed-a",
    first_id: int = 1,
) -> list[dict[str, object]]:
    """Rows for one author posting ``values`` (depression index) at a fixed interval."""
    return [
        {
            "post_id": first_id + i,
            "author": author,
            "source": source,
            "created_at": start + i * every,
            "depression_index": float(v),
            "carer_sadness": float(v),
        }
        for i, v in enumerate(values)
    ]
