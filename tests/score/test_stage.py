"""The score stage on real SQLite files with a tiny random model (monitor/score.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import Engine, func, select, update
from tiny_model import build_tiny_model

from monitor.errors import ConfigError, ModelNotFound
from monitor.model.configured import index_from_settings, load_predictor, scores_version
from monitor.model.predictor import Predictor, load_model, split_windows
from monitor.score.stage import run_score
from monitor.settings import Settings
from monitor.store import posts as store
from monitor.store import scores
from monitor.store.engine import ensure_schema, make_engine, session_scope
from monitor.store.schema import SCORE_COLUMNS, Post, Run, Score

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

# Our own short English posts (the tiny model's vocabulary covers most of their words).
ENGLISH = [
    "i am so sad today",
    "i feel happy and we smile",
    "so angry at you right now",
    "i am afraid and scared of the dark",
    "what a surprise, i love it!",
    "tears again, i feel hopeless and lonely",
    "the sun is out and i am happy",
    "i cry so much these days",
    "my friends make me smile",
    "not ok, not ok at all",
    "i love my dog so very much",
    "is it me or is today very long",
    "we feel the joy of the holidays",
    "grief is a strange thing",
    "i am scared of what comes next",
]
FOREIGN = {
    "de": "Ich bin heute so müde und traurig, alles ist mir zu viel.",
    "fr": "Je suis tellement fatiguée aujourd'hui, je n'en peux plus.",
    "es": "Hoy me siento muy triste y no sé por qué.",
    "ru": "Сегодня мне очень грустно и одиноко.",
    "ja": "今日はとても疲れて悲しい。",
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32)


@pytest.fixture(scope="module")
def predictor(tiny_dir: Path) -> Predictor:
    return load_model(tiny_dir, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def other_predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """A second tiny model with other weights, hence another version."""
    path = build_tiny_model(tmp_path_factory.mktemp("tiny2") / "model", window=32, seed=1)
    return load_model(path, device="cpu", precision="fp32")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(EMOMON_SCORING_CHUNK_SIZE="8")


def add_posts(
    engine: Engine,
    texts: Sequence[str | None],
    *,
    languages: Sequence[str | None] | None = None,
    source: str = "feed-a",
    first: int = 0,
) -> list[int]:
    """Store posts (external ids first, first+1, ...); returns their ids in the same order."""
    languages = languages or [None] * len(texts)
    with session_scope(engine) as s:
        src = store.get_or_create_source(s, name=source, kind="jsonl", location="x.jsonl")
        rows = [
            {
                "source_id": src.id,
                "external_id": str(first + i),
                "author_id": None,
                "created_at": T0 + timedelta(hours=first + i),
                "text": text,
                "url": None,
                "language": lang,
                "content_hash": md5(f"{first + i}:{text}"),
                "ingested_at": T0,
            }
            for i, (text, lang) in enumerate(zip(texts, languages))
        ]
        store.insert_posts(s, rows)
        found = store.existing_posts(s, src.id, [r["external_id"] for r in rows])
    return [found[r["external_id"]][0] for r in rows]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def score_rows(engine: Engine) -> dict[int, Score]:
    with session_scope(engine) as s:
        return {row.post_id: row for row in s.scalars(select(Score))}


def test_scores_each_post_once(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    ids = add_posts(engine, ENGLISH * 3)
    report = run_score(engine, settings, predictor=predictor)
    assert (report.scored, report.skipped, report.windowed) == (len(ids), 0, 0)
    assert report.model_version == predictor.version
    rows = score_rows(engine)
    assert sorted(rows) == sorted(ids)
    for row in rows.values():
        assert row.status == "scored" and row.reason is None and row.windows == 1
        assert len(row.probs) == 2 * len(SCORE_COLUMNS)
        assert 0.0 <= row.depression_index <= 1.0
    with session_scope(engine) as s:
        frame = scores.read_scores(s)
        run = s.scalars(select(Run).where(Run.command == "score")).one()
    assert frame.height == len(ids)
    carer = frame.select([c for c in frame.columns if c.startswith("carer_")]).to_numpy()
    np.testing.assert_allclose(carer.sum(axis=1), 1.0, atol=5e-3)  # float16 storage
    assert run.status == "ok" and run.stats["scored"] == len(ids)


def test_stored_scores_match_the_predictor(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    ids = add_posts(engine, ENGLISH)
    run_score(engine, settings, predictor=predictor)
    expected = predictor.predict(ENGLISH)
    with session_scope(engine) as s:
        frame = scores.read_scores(s).sort("post_id")
    assert frame["post_id"].to_list() == sorted(ids)
    for row, want in zip(frame.iter_rows(named=True), expected):
        assert row["goemo_sadness"] == pytest.approx(want["goemotions"]["sadness"], abs=1e-3)
        assert row["carer_fear"] == pytest.approx(want["carer"]["fear"], abs=1e-3)
        assert row["big5_opn"] == pytest.approx(want["big5"]["OPN"], abs=1e-3)
        assert row["depression_index"] == pytest.approx(want["depression_index"], abs=1e-5)


def test_rescore_replaces_scores_of_another_version(
    engine: Engine, settings: Settings, predictor: Predictor, other_predictor: Predictor
) -> None:
    old, new = predictor.version, other_predictor.version
    assert old != new
    ids = add_posts(engine, ENGLISH)
    run_score(engine, settings, predictor=predictor)
    before = score_rows(engine)

    quiet = run_score(engine, settings, predictor=other_predictor)  # no --rescore: nothing to do
    assert quiet.scored == 0 and quiet.other_versions == {old: len(ids)}
    assert "--rescore" in (quiet.message or "")

    partial = run_score(engine, settings, predictor=other_predictor, rescore=True, limit=5)
    assert partial.scored == 5
    rows = score_rows(engine)
    assert len(rows) == len(ids)  # one row per post: replaced, not added
    assert sum(r.model_version == new for r in rows.values()) == 5
    untouched = [pid for pid, r in rows.items() if r.model_version == old]
    assert all(rows[pid].scored_at == before[pid].scored_at for pid in untouched)  # old kept

    rest = run_score(engine, settings, predictor=other_predictor, rescore=True)
    assert rest.scored == len(ids) - 5 and rest.other_versions == {}
    rows = score_rows(engine)
    assert len(rows) == len(ids) and {r.model_version for r in rows.values()} == {new}
    with session_scope(engine) as s:
        assert scores.read_scores(s, model_version=old).height == 0
        assert scores.read_scores(s, model_version=new).height == len(ids)


def test_new_posts_after_a_model_change_get_the_new_version(
    engine: Engine, settings: Settings, predictor: Predictor, other_predictor: Predictor
) -> None:
    add_posts(engine, ENGLISH[:4])
    run_score(engine, settings, predictor=predictor)
    (late,) = add_posts(engine, ["i am happy today"], first=100)
    report = run_score(engine, settings, predictor=other_predictor)
    assert report.scored == 1
    assert score_rows(engine)[late].model_version == other_predictor.version
    assert report.other_versions == {predictor.version: 4}


def test_changed_text_is_scored_again(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    (pid,) = add_posts(engine, ["i am so happy today"])
    run_score(engine, settings, predictor=predictor)
    first = score_rows(engine)[pid]
    with session_scope(engine) as s:
        store.update_posts(
            s,
            [
                {
                    "post_id": pid,
                    "text": "i am so sad and lonely today",
                    "content_hash": md5("changed"),
                    "author_id": None,
                    "created_at": T0,
                    "url": None,
                    "language": None,
                    "ingested_at": T0,
                }
            ],
        )
    report = run_score(engine, settings, predictor=predictor)
    assert report.scored == 1
    second = score_rows(engine)[pid]
    assert second.text_hash == md5("changed")[:8] and second.probs != first.probs


def test_purged_text_keeps_its_score_and_unscored_purged_posts_are_skipped(
    engine: Engine, settings: Settings, predictor: Predictor, other_predictor: Predictor
) -> None:
    kept, purged_later = add_posts(engine, ["i am sad", "i am happy"])
    run_score(engine, settings, predictor=predictor)
    (never,) = add_posts(engine, [None], first=50)
    with session_scope(engine) as s:
        s.execute(update(Post).where(Post.id == purged_later).values(text=None))
    report = run_score(engine, settings, predictor=other_predictor, rescore=True)
    rows = score_rows(engine)
    assert rows[never].status == "skipped" and rows[never].reason == "no-text"
    assert rows[purged_later].model_version == predictor.version  # nothing to rescore it from
    assert rows[kept].model_version == other_predictor.version
    assert (report.scored, report.skipped) == (1, 1)


def test_long_post_is_scored_on_windows(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    long_text = " ".join(ENGLISH * 4)  # far beyond the 32-token window
    short_id, long_id = add_posts(engine, ["i am happy", long_text])
    report = run_score(engine, settings, predictor=predictor)
    assert report.windowed == 1 and report.scored == 2
    ids = predictor.encode([long_text])[0]
    windows = split_windows(ids, predictor.max_length, settings.scoring.window_stride)
    assert len(ids) > predictor.max_length and len(windows) > 1
    rows = score_rows(engine)
    assert rows[long_id].windows == len(windows) and rows[short_id].windows == 1

    per_window = [predictor.probabilities(predictor.window_logits(predictor.plan([w]))) for w in windows]
    goemo = np.concatenate([p["goemotions"] for p in per_window])
    carer = np.concatenate([p["carer"] for p in per_window])
    big5 = np.concatenate([p["big5"] for p in per_window])
    index = predictor.depression_index(goemo, carer)
    with session_scope(engine) as s:
        row = scores.read_scores(s).filter(post_id=long_id).row(0, named=True)
    labels = predictor.goemotions_labels
    assert row["goemo_sadness"] == pytest.approx(goemo[:, labels.index("sadness")].max(), abs=1e-3)
    carer_max = carer.max(axis=0) / carer.max(axis=0).sum()
    assert row["carer_joy"] == pytest.approx(carer_max[predictor.carer_labels.index("joy")], abs=1e-3)
    assert row["big5_ext"] == pytest.approx(big5[:, predictor.big5_traits.index("EXT")].mean(), abs=1e-3)
    assert row["depression_index"] == pytest.approx(float(index.max()), abs=1e-6)


def test_window_combination_is_configurable(
    engine: Engine, make_settings: Callable[..., Settings], predictor: Predictor
) -> None:
    long_text = " ".join(ENGLISH * 4)
    (pid,) = add_posts(engine, [long_text])
    mean = make_settings('[scoring]\nwindow_emotions = "mean"\nwindow_stride = 16\n')
    predictor = load_predictor(mean, model=predictor.path, device="cpu")
    run_score(engine, mean, predictor=predictor)
    ids = predictor.encode([long_text])[0]
    windows = split_windows(ids, predictor.max_length, 16)
    outs = [predictor.probabilities(predictor.window_logits(predictor.plan([w]))) for w in windows]
    index = predictor.depression_index(
        np.concatenate([o["goemotions"] for o in outs]), np.concatenate([o["carer"] for o in outs])
    )
    row = score_rows(engine)[pid]
    assert row.windows == len(windows)
    assert row.depression_index == pytest.approx(float(index.mean()), abs=1e-6)


def test_other_languages_are_skipped_with_a_reason(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    texts = [*FOREIGN.values(), *ENGLISH[:5], "i am sad", "😭😭😭", "   "]
    ids = add_posts(engine, texts)
    report = run_score(engine, settings, predictor=predictor)
    rows = score_rows(engine)
    for pid in ids[: len(FOREIGN)]:
        assert rows[pid].status == "skipped" and rows[pid].reason.startswith("language:")
        assert rows[pid].reason != "language:en"
        assert rows[pid].probs is None and rows[pid].depression_index is None
    assert rows[ids[0]].reason == "language:de" and rows[ids[3]].reason == "language:ru"
    for pid in ids[len(FOREIGN) : -1]:
        assert rows[pid].status == "scored"  # short English and emoji-only posts are scored
    assert rows[ids[-1]].reason == "empty"
    assert (report.scored, report.skipped) == (len(texts) - len(FOREIGN) - 1, len(FOREIGN) + 1)
    with session_scope(engine) as s:
        assert scores.read_scores(s).height == report.scored  # skipped rows are not in the frame


def test_a_source_language_tag_is_trusted(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    ids = add_posts(engine, ["i am so sad today", FOREIGN["fr"], "i am happy"], languages=["de", "en-GB", "und"])
    run_score(engine, settings, predictor=predictor)
    rows = score_rows(engine)
    assert rows[ids[0]].reason == "language:de"
    assert rows[ids[1]].status == "scored"
    assert rows[ids[2]].status == "scored"  # "und": identified from the text


def test_configured_languages_are_scored(
    engine: Engine, make_settings: Callable[..., Settings], predictor: Predictor
) -> None:
    ids = add_posts(engine, [FOREIGN["de"], FOREIGN["fr"]])
    run_score(engine, make_settings('[scoring]\nlanguages = ["en", "de"]\n'), predictor=predictor)
    rows = score_rows(engine)
    assert rows[ids[0]].status == "scored" and rows[ids[1]].reason == "language:fr"


@pytest.mark.parametrize("batch_tokens,chunk", [(32, 3), (200, 5), (4096, 64)])
def test_scores_do_not_depend_on_batching_padding_or_order(
    make_db_url: Callable[[str], str],
    make_settings: Callable[..., Settings],
    predictor: Predictor,
    batch_tokens: int,
    chunk: int,
) -> None:
    long_text = " ".join(ENGLISH[:6])  # 1-2 windows, changes the padded width of its batch
    texts = [*ENGLISH, long_text]
    results = []
    for name, order in (("forward", texts), ("reversed", texts[::-1])):
        eng = make_engine(make_db_url(name))
        ensure_schema(eng)
        ids = add_posts(eng, order)
        by_id = dict(zip(ids, order))
        sizes = {"forward": ("8192", "1024"), "reversed": (str(batch_tokens), str(chunk))}[name]
        s = make_settings(EMOMON_SCORING_BATCH_TOKENS=sizes[0], EMOMON_SCORING_CHUNK_SIZE=sizes[1])
        run_score(eng, s, predictor=predictor)
        with session_scope(eng) as sess:
            frame = scores.read_scores(sess)
        eng.dispose()
        frame = frame.with_columns(text=frame["post_id"].replace_strict(by_id)).sort("text")
        results.append(frame)
    a, b = results
    assert a["text"].to_list() == b["text"].to_list()
    np.testing.assert_allclose(a["depression_index"].to_numpy(), b["depression_index"].to_numpy(), atol=1e-5)
    cols = list(SCORE_COLUMNS)
    # float16 storage: values equal in fp32 may round one float16 step apart.
    np.testing.assert_allclose(a.select(cols).to_numpy(), b.select(cols).to_numpy(), atol=1e-3)


def test_prepared_in_a_thread_or_inline_the_rows_are_the_same(
    make_db_url: Callable[[str], str],
    settings: Settings,
    predictor: Predictor,
) -> None:
    texts = [*ENGLISH, FOREIGN["de"], " ".join(ENGLISH[:6]), "", None] * 3  # several chunks of 8
    stored = []
    for overlap in (True, False):
        eng = make_engine(make_db_url(str(overlap)))
        ensure_schema(eng)
        add_posts(eng, texts)
        report = run_score(eng, settings, predictor=predictor, overlap=overlap)
        assert (report.scored, report.skipped, report.windowed) == (48, 9, 3)
        steps = report.stage_seconds
        main_thread = {"model", "write", "waiting"} if overlap else set(steps)
        assert set(steps) == {"read", "language", "tokenise", "model", "write"} | ({"waiting"} if overlap else set())
        assert all(v > 0 for v in steps.values()) and report.bound_by() in steps
        assert sum(steps[k] for k in main_thread) <= report.scoring_seconds
        assert report.to_json()["stage_seconds"] == {k: round(v, 3) for k, v in steps.items()}
        stored.append(
            [
                (r.post_id, r.status, r.reason, r.depression_index, r.probs, r.windows)
                for r in sorted(score_rows(eng).values(), key=lambda r: r.post_id)
            ]
        )
        eng.dispose()
    assert stored[0] == stored[1]


def test_the_bounding_step_is_the_model_unless_it_waits_for_preparation() -> None:
    from monitor.score.plan import ScoreReport

    report = ScoreReport(model_version="v")
    assert report.bound_by() is None
    report.add_seconds({"read": 0.5, "language": 1.0, "tokenise": 2.0, "model": 10.0, "write": 0.2, "waiting": 0.4})
    assert report.bound_by() == "model"
    report.add_seconds({"waiting": 3.0, "tokenise": 6.0})  # the model waited 3.4 s of 10: tokenising bounds
    assert report.bound_by() == "tokenise" and report.stage_seconds["tokenise"] == 8.0
    slow_writes = ScoreReport(model_version="v")  # e.g. a distant PostgreSQL server
    slow_writes.add_seconds(
        {"read": 0.1, "language": 0.2, "tokenise": 0.5, "model": 10.0, "write": 30.0, "waiting": 0.2}
    )
    assert slow_writes.bound_by() == "write"
    inline = ScoreReport(model_version="v")
    inline.add_seconds({"read": 0.1, "language": 4.0, "tokenise": 1.0, "model": 3.0, "write": 0.1})
    assert inline.bound_by() == "language"


def test_configured_overlap_chooses_the_preparation(
    engine: Engine,
    make_settings: Callable[..., Settings],
    predictor: Predictor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import monitor.score.stage as score_module

    threads: list[bool] = []
    real = score_module._read_ahead

    def spy(*args: object, **kwargs: object):  # records that the reader thread was used
        threads.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(score_module, "_read_ahead", spy)
    add_posts(engine, ENGLISH)
    run_score(engine, make_settings(EMOMON_SCORING_OVERLAP="inline"), predictor=predictor)
    assert threads == []
    add_posts(engine, ENGLISH, first=100)
    report = run_score(engine, make_settings(EMOMON_SCORING_OVERLAP="thread"), predictor=predictor)
    assert threads == [True] and report.scored == len(ENGLISH)


def test_preparation_overlaps_only_where_a_core_or_a_gpu_is_free(
    predictor: Predictor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.score.stage import overlap_preparation

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(torch, "get_num_threads", lambda: cores)
    assert overlap_preparation(predictor) is False
    monkeypatch.setattr(torch, "get_num_threads", lambda: max(1, cores - 1))
    assert overlap_preparation(predictor) is (cores > 1)
    monkeypatch.setattr(predictor, "device", torch.device("cuda"))
    monkeypatch.setattr(torch, "get_num_threads", lambda: cores)
    assert overlap_preparation(predictor) is True


def test_empty_store_is_a_quick_no_op_without_loading_the_model(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    t0 = time.perf_counter()
    report = run_score(engine, settings, model=tmp_path / "no-such-model")
    assert time.perf_counter() - t0 < 1.0
    assert report.posts == 0 and "no posts stored" in (report.message or "")
    assert report.model_version is None  # no model there, and none needed
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Score)) == 0
        run = s.scalars(select(Run).where(Run.command == "score")).one()
    assert run.status == "ok" and run.message == report.message and run.finished_at is not None


def test_all_scored_store_is_a_quick_no_op(
    engine: Engine, settings: Settings, predictor: Predictor, tiny_dir: Path
) -> None:
    add_posts(engine, ENGLISH)
    run_score(engine, settings, predictor=predictor)
    before = score_rows(engine)
    t0 = time.perf_counter()
    report = run_score(engine, settings, model=tiny_dir)
    assert time.perf_counter() - t0 < 1.0
    assert report.posts == 0 and f"all {len(ENGLISH)} stored posts are already scored" in report.message
    assert report.model_version == predictor.version  # read from the model's JSON, no weights
    again = run_score(engine, settings, predictor=predictor, rescore=True)  # same version: nothing
    assert again.posts == 0
    assert {k: v.scored_at for k, v in score_rows(engine).items()} == {k: v.scored_at for k, v in before.items()}


def test_limit_scores_at_most_n_posts(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    add_posts(engine, ENGLISH)
    assert run_score(engine, settings, predictor=predictor, limit=7).posts == 7
    assert run_score(engine, settings, predictor=predictor, limit=0).posts == 0
    assert run_score(engine, settings, predictor=predictor).posts == len(ENGLISH) - 7


def test_progress_reports_every_post(engine: Engine, settings: Settings, predictor: Predictor) -> None:
    add_posts(engine, ENGLISH)
    seen: list[int] = []
    totals: list[int] = []
    run_score(engine, settings, predictor=predictor, progress=seen.append, on_total=totals.append)
    assert totals == [len(ENGLISH)] and sum(seen) == len(ENGLISH) and max(seen) <= 8
    assert all(n > 0 for n in seen)


def test_progress_moves_within_a_chunk(
    engine: Engine, make_settings: Callable[..., Settings], predictor: Predictor
) -> None:
    add_posts(engine, ENGLISH * 2)
    seen: list[int] = []
    one_chunk = make_settings(EMOMON_SCORING_CHUNK_SIZE="1000", EMOMON_SCORING_BATCH_TOKENS="64")
    predictor = load_predictor(one_chunk, model=predictor.path, device="cpu")  # batches as configured
    run_score(engine, one_chunk, predictor=predictor, progress=seen.append)
    assert len(seen) > 3 and sum(seen) == 2 * len(ENGLISH)  # one chunk, many batches


def test_index_weights_from_config_change_the_version(
    make_settings: Callable[..., Settings], predictor: Predictor
) -> None:
    custom = make_settings("[scoring.index]\ngoemotions = { sadness = 2.0 }\n")
    index = index_from_settings(custom.scoring, predictor.index, predictor.goemotions_labels, predictor.carer_labels)
    assert index is not None and dict(index.goemotions) == {"sadness": 2.0}
    assert dict(index.carer) == dict(predictor.index.carer)  # empty table: the model's weights
    assert (
        index_from_settings(
            make_settings("").scoring, predictor.index, predictor.goemotions_labels, predictor.carer_labels
        )
        is None
    )
    bad = make_settings("[scoring.index]\ncarer = { gloom = 1.0 }\n")
    with pytest.raises(ConfigError, match="gloom"):
        index_from_settings(bad.scoring, predictor.index, predictor.goemotions_labels, predictor.carer_labels)


def test_custom_index_is_stored_under_its_own_version(
    engine: Engine, make_settings: Callable[..., Settings], tiny_dir: Path
) -> None:
    add_posts(engine, ENGLISH[:3])
    custom = make_settings(
        '[scoring]\ndevice = "cpu"\nprecision = "fp32"\n[scoring.index]\ngoemotions = { sadness = 2.0 }\n'
    )
    report = run_score(engine, custom, model=tiny_dir)
    version = report.model_version or ""
    assert version.startswith(load_model(tiny_dir).version + "+idx") and report.scored == 3


def test_missing_model_and_unavailable_gpu_are_domain_errors(
    engine: Engine, settings: Settings, tiny_dir: Path, tmp_path: Path
) -> None:
    add_posts(engine, ["i am sad"])
    with pytest.raises(ModelNotFound, match=r"\[model\] path"):
        run_score(engine, settings, model=tmp_path / "missing")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            run_score(engine, settings, model=tiny_dir, device="cuda")


def test_scores_version_is_the_model_version_by_default(predictor: Predictor) -> None:
    assert scores_version(predictor) == predictor.version


_CHILD = textwrap.dedent(
    """
    import sys, time
    from monitor.settings import load_settings
    from monitor.store.engine import make_engine
    from monitor.model.predictor import load_model
    from monitor.score.stage import run_score

    url, model = sys.argv[1], sys.argv[2]
    settings = load_settings(None, {"EMOMON_DATABASE_URL": url, "EMOMON_SCORING_CHUNK_SIZE": "10"})
    predictor = load_model(model, device="cpu", precision="fp32")

    done = 0

    def progress(n):
        global done
        done += n
        print("done", done, flush=True)
        time.sleep(0.1)  # leave the parent time to kill us between and inside chunks

    run_score(make_engine(url), settings, predictor=predictor, progress=progress)
    print("done", flush=True)
    """
)


def test_resume_after_sigkill_loses_nothing_and_doubles_nothing(
    engine: Engine, db_url: str, settings: Settings, predictor: Predictor, tiny_dir: Path
) -> None:
    ids = add_posts(engine, ENGLISH * 8)  # 120 posts, 12 chunks of 10
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, db_url, str(tiny_dir)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    assert child.stdout is not None
    done = 0
    deadline = time.monotonic() + 120
    while done <= 30 and time.monotonic() < deadline:  # past 30: chunk 4 is being scored,
        line = child.stdout.readline()  # so chunks 1-3 are committed
        assert line, "the scoring child exited before it was killed"
        done = int(line.split()[1]) if line.startswith("done") else done
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    before = score_rows(engine)
    assert 30 <= len(before) < len(ids) and len(before) % 10 == 0  # whole chunks only
    report = run_score(engine, settings, predictor=predictor)
    assert report.posts == len(ids) - len(before)
    after = score_rows(engine)
    assert sorted(after) == sorted(ids)  # nothing lost
    with session_scope(engine) as s:  # nothing doubled
        assert s.scalar(select(func.count()).select_from(Score)) == len(ids)
        runs = s.scalars(select(Run.status).where(Run.command == "score")).all()
    assert all(after[pid].scored_at == row.scored_at for pid, row in before.items())  # not redone
    assert runs == ["running", "ok"]  # the killed run never finished
