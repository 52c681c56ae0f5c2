import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from monitor.errors import SourceError
from monitor.ingest.archives import read_mastodon, read_reddit, read_x

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_mastodon_outbox_notes_and_boosts():
    records = list(read_mastodon(str(EXAMPLES / "mastodon")))
    assert len(records) == 3
    first, boost, last = records
    assert first.text.startswith("First day of spring") and "#birds" in first.text
    assert first.author == "https://social.example.org/users/heron"
    assert first.language == "en" and first.url == "https://social.example.org/@heron/101"
    assert boost.error == "not a post (Announce activity)"
    assert "lonely tonight" in last.text and "far away" in last.text


def test_mastodon_from_tar_gz_without_extracting(tmp_path):
    archive = tmp_path / "archive-2025.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(EXAMPLES / "mastodon" / "outbox.json", arcname="outbox.json")
    assert len(list(read_mastodon(str(archive)))) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive-2025.tar.gz"]


def test_mastodon_wrong_file_is_source_error(tmp_path):
    (tmp_path / "outbox.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(SourceError, match="orderedItems"):
        list(read_mastodon(str(tmp_path)))


def test_x_archive_directory_uses_account_username():
    records = list(read_x(str(EXAMPLES / "x")))
    assert [r.external_id for r in records] == [f"189600000000000000{i}" for i in (1, 2, 3)]
    assert records[0].text == "Coffee & sunshine, a perfect start to the weekend."
    assert records[0].author == "sparrow_example"
    assert records[0].url == "https://x.com/sparrow_example/status/1896000000000000001"
    assert records[0].created_at.isoformat() == "2025-03-01T08:00:00+00:00"


def test_x_archive_zip(tmp_path):
    archive = tmp_path / "twitter.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(EXAMPLES / "x" / "data" / "tweets.js", "data/tweets.js")
        zf.write(EXAMPLES / "x" / "data" / "account.js", "data/account.js")
    records = list(read_x(str(archive)))
    assert len(records) == 3 and records[1].author == "sparrow_example"


def test_reddit_comments_and_submissions():
    records = list(read_reddit(str(EXAMPLES / "reddit.ndjson")))
    ids = [r.external_id for r in records]
    assert ids == ["t3_abc101", "t1_def202", "t1_ghi303", "t1_jkl404", "t3_mno505"]
    assert records[0].text.startswith("Does anyone else") and "hands shake" in records[0].text
    assert records[1].created_at.isoformat() == "2025-03-01T13:00:00+00:00"
    assert records[2].error == "no text (comment [deleted])"
    assert records[4].text == "Passed my driving test!"
    assert records[0].url == "https://www.reddit.com/r/example_students/comments/abc101/"
