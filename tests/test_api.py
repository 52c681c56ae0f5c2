"""``monitor.Emomon``, the Python API, and ``emomon export`` on a real store (SQLite, or PostgreSQL with
``--backend postgres``).

The seeded store (tests/review_seed.py) has two invented authors, one drifting, scored through the
store's own writer; the tiny random model (tests/tiny_model.py) scores what the tests ingest.
``docs/api.md``'s walk-through is run block by block as written.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from review_seed import DRIFT, DRIFT_HANDLE, STEADY, T0, seed
from sqlalchemy import select, text, update
from tiny_model import build_tiny_model

from monitor import Emomon
from monitor.cli import cli
from monitor.errors import AlertNotFound, ConfigError, EmomonError
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import SCORE_CARER, SCORE_GOEMOTIONS, Post, Score

REPO = Path(__file__).resolve().parent.parent
HANDLES = (DRIFT_HANDLE, "plain_sky", "ann_handle", "bob_handle")
POSTS = [
    {"id": "p1", "text": "i am so sad and lonely today", "author": "ann_handle", "created_at": "2025-05-01T10:00:00Z"},
    {"id": "p2", "text": "i feel happy and we smile", "author": "bob_handle", "created_at": "2025-05-02T10:00:00Z"},
    {"id": "p3", "text": "so afraid and scared tonight", "author": "ann_handle", "created_at": "2025-05-03T10:00:00Z"},
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", window=32)


@pytest.fixture
def project(tmp_path: Path, db_url: str, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seeded store, alerts not yet raised, a config naming the tiny model and a posts file; cwd is there."""
    extra = (
        f'[model]\npath = "{tiny_dir}"\n[scoring]\ndevice = "cpu"\nprecision = "fp32"\nchunk_size = 2\n'
        "[retention]\nraw_text_days = 365\n"
    )
    config = seed(tmp_path, extra_config=extra, db_url=db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:  # the seeded scores are of the stored text: the tiny model leaves them alone
        for post_id, text_hash in s.execute(select(Score.post_id, Score.text_hash)).all():
            s.execute(update(Post).where(Post.id == post_id).values(content_hash=text_hash.ljust(32, "0")))
        if engine.dialect.name == "postgresql":  # the seed chose its ids: move the sequences past them
            for table in ("posts", "authors", "sources"):
                s.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    engine.dispose()
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in POSTS), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOMON_CONFIG", raising=False)
    monkeypatch.setenv("EMOMON_DATABASE_URL", db_url)
    return config


def invoke(*args: str) -> tuple[int, str]:
    """``emomon --config config.toml ARGS``: (exit code, stdout and stderr); no traceback allowed."""
    result = CliRunner().invoke(cli, ["--config", "config.toml", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_walk_through_in_docs_api_md_runs_as_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "api.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)  # noqa: S102 - the documented code, run as written
    out = capsys.readouterr().out
    assert "alerts stage ok: True" in out and "acknowledged sam" in out
    assert pl.read_parquet("scores.parquet").height == namespace["rows"] == Emomon("config.toml").scores().height


def test_predict_gives_the_numbers_emomon_predict_prints(project: Path) -> None:
    texts = [p["text"] for p in POSTS] + [" ".join(["i am afraid and scared of the dark"] * 12)]
    code, out = invoke("predict", "--json", *texts)
    assert code == 0, out
    printed = [json.loads(line) for line in out.splitlines()]
    assert Emomon("config.toml").predict(texts) == printed
    code, out = invoke("predict", "--json", texts[0])  # alone: a batch of one, as the API is given it
    assert Emomon("config.toml").predict(texts[0]) == [json.loads(out)]
    assert Emomon("config.toml").predict([]) == []


def test_ingest_score_and_scores_name_every_score_and_only_pseudonyms(project: Path) -> None:
    em = Emomon("config.toml")
    before = em.scores()
    assert em.ingest(["posts.jsonl"]).ok
    report = em.score()
    assert report.scored == len(POSTS)
    frame = em.scores()
    assert frame.height == before.height + len(POSTS)
    assert frame.columns[:7] == [
        "post_id",
        "source",
        "author",
        "created_at",
        "model_version",
        "depression_index",
        "distress",
    ]
    assert [c for c in frame.columns if c.startswith("goemotions_")] == [f"goemotions_{g}" for g in SCORE_GOEMOTIONS]
    assert [c for c in frame.columns if c.startswith("carer_")] == [f"carer_{c}" for c in SCORE_CARER]
    assert len([c for c in frame.columns if c.startswith("big5_")]) == 5
    assert not [c for c in frame.columns if c.startswith("goemo_")]
    authors = set(frame["author"].drop_nulls())
    assert {DRIFT, STEADY} <= authors and not authors & set(HANDLES)
    assert frame["created_at"].dtype == pl.Datetime("us", "UTC")
    mine = frame.filter(pl.col("source") == "posts.jsonl") if "posts.jsonl" in frame["source"] else frame.tail(3)
    assert mine.height == len(POSTS) and mine["model_version"].str.starts_with("tiny-test+").all()
    again = em.predict([p["text"] for p in POSTS])
    assert mine["depression_index"].to_list() == pytest.approx([r["depression_index"] for r in again], abs=1e-5)


def test_scores_filters_are_the_commands_filters(project: Path) -> None:
    em = Emomon("config.toml")
    everything = em.scores()
    assert set(em.scores(author=DRIFT)["author"]) == {DRIFT}
    assert em.scores(source="forum").height == everything.height
    assert em.scores(source="no-such-source").is_empty()
    window = em.scores(since=T0 + timedelta(days=10), until=(T0 + timedelta(days=12)).date())
    assert window.height > 0
    assert window["created_at"].min() >= T0 + timedelta(days=10)  # type: ignore[operator]
    assert window["created_at"].max() < T0.replace(hour=0) + timedelta(days=12)  # type: ignore[operator]
    assert (
        em.scores(since="2025-03-11").height
        == everything.filter(pl.col("created_at") >= T0.replace(day=11, hour=0)).height
    )
    with pytest.raises(EmomonError, match="is not before until"):
        em.scores(since="2025-04-01", until="2025-03-01")
    with pytest.raises(EmomonError, match="is not a date"):
        em.scores(since="last tuesday")


def test_alerts_act_author_and_report(project: Path) -> None:
    em = Emomon("config.toml")
    assert em.alerts() == []
    assert em.run(["alerts"]).ok
    alerts = em.alerts(status="new")
    assert alerts and {a["subject"] for a in alerts} == {DRIFT}
    assert all(a["explanation"] for a in alerts)
    code, out = invoke("alerts", "list", "--json")
    assert code == 0 and json.loads(out)["alerts"] == alerts
    one = em.alert(alerts[0]["id"])
    assert one["posts"] and one["history"] == []
    acted = em.act(one["id"], "ack", note="reading the posts", by="sam")
    assert acted["status"] == "acknowledged" and acted["history"][-1]["by"] == "sam"
    resolved = em.act(one["id"], "resolved", note="checked in", by="kim")
    assert [h["action"] for h in resolved["history"]] == ["acknowledged", "resolved"]
    assert em.alerts(status="resolved")[0]["id"] == one["id"]
    with pytest.raises(AlertNotFound):
        em.alert(10_000)
    view = em.author(DRIFT)
    assert view.author == DRIFT
    with pytest.raises(EmomonError):
        em.author("a-nobody")
    data = em.report(by="week")
    from monitor.report.text import export

    assert "emomon" in export(data, "md").lower()


def test_the_cli_ack_goes_through_the_api(project: Path) -> None:
    em = Emomon("config.toml")
    em.run(["alerts"])
    alert_id = em.alerts()[0]["id"]
    code, out = invoke("alerts", "ack", str(alert_id), "--note", "on it", "--by", "sam", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "acknowledged"
    assert em.alert(alert_id)["history"][0]["note"] == "on it"


def test_config_forms_and_errors(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    em = Emomon(project)
    assert Emomon(em.settings).scores().height == em.scores().height
    assert Emomon().settings.path == em.settings.path  # ./config.toml, as the CLI finds it
    with pytest.raises(ConfigError, match="not found"):
        Emomon(tmp_path / "missing.toml")
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with pytest.raises(ConfigError, match="emomon init"):
        Emomon()
    with pytest.raises(EmomonError, match="unknown action"):
        em.act(1, "delete", note="x", by="y")  # type: ignore[arg-type]


# -- emomon export ---------------------------------------------------------------------------


def _read(path: Path, fmt: str) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.read_parquet(path)
    if fmt == "csv":
        return pl.read_csv(path, try_parse_dates=True)
    return pl.read_ndjson(path)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_writes_the_rows_of_scores_with_pseudonyms_only(project: Path, fmt: str) -> None:
    em = Emomon("config.toml")
    code, out = invoke("export", "--format", fmt, "--output", f"out.{fmt}", "--author", DRIFT, "--since", "2025-03-05")
    assert code == 0, out
    assert "wrote" in out
    expected = em.scores(since="2025-03-05", author=DRIFT)
    back = _read(Path(f"out.{fmt}"), fmt)
    assert sorted(back.columns) == sorted(expected.columns) and back.height == expected.height > 0
    if fmt != "jsonl":  # a JSON object's keys have no order a reader must keep
        assert back.columns == expected.columns
    assert back["post_id"].to_list() == expected["post_id"].to_list()
    assert back["depression_index"].to_list() == pytest.approx(expected["depression_index"].to_list(), abs=1e-6)
    raw = Path(f"out.{fmt}").read_bytes()
    assert not any(handle.encode() in raw for handle in HANDLES)
    assert b"invented post" not in raw and "text" not in back.columns


def test_export_with_text_gives_the_text_and_none_once_purged(project: Path, db_url: str) -> None:
    em = Emomon("config.toml")
    with session_scope(em.engine) as s:  # post 1 arrived long ago: past [retention] raw_text_days
        s.execute(update(Post).where(Post.id == 1).values(ingested_at=T0))
    assert em.run(["purge"]).ok
    code, out = invoke("export", "--output", "scores.jsonl", "--with-text")
    assert code == 0, out
    back = pl.read_ndjson("scores.jsonl")
    texts = dict(zip(back["post_id"], back["text"], strict=True))
    assert texts[1] is None
    assert texts[2] == "invented post 2 about the weather"
    assert sum(t is None for t in texts.values()) == 1
    assert not any(handle in Path("scores.jsonl").read_text(encoding="utf-8") for handle in HANDLES)


def test_export_refuses_to_overwrite_the_config_or_write_into_the_model(project: Path, tiny_dir: Path) -> None:
    before = Path("config.toml").read_bytes()
    code, out = invoke("export", "--format", "csv", "--output", "config.toml")
    assert code == 1
    assert "refusing to overwrite 'config.toml': it is the config file" in out and "--force" in out
    assert Path("config.toml").read_bytes() == before
    inside = tiny_dir / "scores.csv"
    code, out = invoke("export", "--output", str(inside))
    assert code == 1 and "a file in the model directory" in out and not inside.exists()


@pytest.mark.sqlite_only(reason="only a SQLite database is a file an export could overwrite")
def test_export_refuses_to_overwrite_the_database(project: Path) -> None:
    before = Path("emomon.db").read_bytes()
    code, out = invoke("export", "--format", "parquet", "--output", "emomon.db")
    assert code == 1 and "refusing to overwrite 'emomon.db': it is the database" in out
    assert Path("emomon.db").read_bytes() == before


def test_export_names_a_format_it_cannot_guess_and_the_api_checks_it_too(project: Path) -> None:
    code, out = invoke("export", "--output", "scores.txt")
    assert code == 1 and "cannot tell the format of 'scores.txt'" in out
    assert not Path("scores.txt").exists()
    with pytest.raises(EmomonError, match="unknown export format 'xlsx'"):
        Emomon("config.toml").export("scores.xlsx", "xlsx")
