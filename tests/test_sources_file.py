import tomllib

import pytest

from monitor.errors import ConfigError
from monitor.settings import load_settings
from monitor.sources_file import add_source, remove_source


def test_add_then_remove_keeps_the_rest_of_the_file(tmp_path):
    path = tmp_path / "config.toml"
    original = (
        "# top comment\n[ingest]\nbatch_size = 5 # inline\n\n"
        '# the feed\n[[sources]]\nname = "a"\nkind = "feed"\nlocation = "x.xml"\n'
    )
    path.write_text(original)
    add_source(path, name='b "quoted"', kind="csv", location="c:\\dir\\f.csv", columns={"text": "body"})
    data = tomllib.loads(path.read_text())
    assert data["sources"][1] == {
        "name": 'b "quoted"',
        "kind": "csv",
        "location": "c:\\dir\\f.csv",
        "columns": {"text": "body"},
        "enabled": True,
    }
    remove_source(path, 'b "quoted"')
    assert path.read_text().rstrip("\n") == original.rstrip("\n")
    remove_source(path, "a")
    assert "# the feed" not in path.read_text() and "# top comment" in path.read_text()
    assert "sources" not in tomllib.loads(path.read_text())


def test_errors_name_the_problem(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[sources]]\nname = "a"\nkind = "feed"\nlocation = "x"\n')
    with pytest.raises(ConfigError, match="already exists"):
        add_source(path, name="a", kind="feed", location="y", columns={})
    with pytest.raises(ConfigError, match="column key 'body'"):
        add_source(path, name="b", kind="csv", location="y", columns={"body": "x"})
    with pytest.raises(ConfigError, match="no source named 'zz'"):
        remove_source(path, "zz")


CONFIG = """# emomon test config
[ingest]
batch_size = 5 # kept inline comment

# The CSV export.
[[sources]]
name = "csv"
kind = "csv"
location = "posts.csv" # relative to this file
enabled = true

[sources.columns]
id = "post_id"
text = "body"
# The feed.
[[sources]]
name = "feed"
kind = "feed"
location = "feed.xml"

# Retention comes last.
[retention]
raw_text_days = 30
"""


def test_removing_a_source_takes_its_columns_sub_table_and_keeps_other_comments(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    remove_source(path, "csv")
    text = path.read_text()
    assert tomllib.loads(text)["sources"] == [{"name": "feed", "kind": "feed", "location": "feed.xml"}]
    assert "[sources.columns]" not in text and "post_id" not in text
    assert "# The CSV export." not in text  # the comment just above the removed header
    assert "# The feed.\n[[sources]]" in text  # the one introducing the next source stays with it
    assert "batch_size = 5 # kept inline comment\n" in text
    assert "# Retention comes last.\n[retention]\nraw_text_days = 30\n" in text
    assert text.startswith("# emomon test config\n")
    load_settings(path, {})  # still a valid config


def test_adding_after_a_source_with_columns_leaves_that_sub_table_attached(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    remove_source(path, "feed")
    add_source(path, name="dump", kind="jsonl", location="dump/*.jsonl", columns={"author": "user.name"})
    text = path.read_text()
    sources = tomllib.loads(text)["sources"]
    assert [s["name"] for s in sources] == ["csv", "dump"]
    assert sources[0]["columns"] == {"id": "post_id", "text": "body"}  # not moved to "dump"
    assert sources[1]["columns"] == {"author": "user.name"}
    assert "# The feed." not in text
    assert "# The CSV export.\n[[sources]]" in text
    assert "# Retention comes last.\n[retention]" in text  # still above [retention], after "dump"
    assert text.index('name = "dump"') < text.index("# Retention comes last.")
    settings = load_settings(path, {})
    assert settings.source("dump").columns == {"author": "user.name"}


def test_add_then_remove_restores_a_file_with_sub_tables_byte_for_byte(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    add_source(path, name="new", kind="feed", location="https://example.org/feed", columns={})
    assert tomllib.loads(path.read_text())["sources"][-1]["name"] == "new"
    remove_source(path, "new")
    assert path.read_text() == CONFIG


def test_removing_the_first_of_several_sources_keeps_the_rest_in_order(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    add_source(path, name="third", kind="csv", location="t.csv", columns={})
    remove_source(path, "csv")
    assert [s["name"] for s in tomllib.loads(path.read_text())["sources"]] == ["feed", "third"]
    remove_source(path, "feed")
    remove_source(path, "third")
    text = path.read_text()
    assert "sources" not in tomllib.loads(text)
    assert "# Retention comes last.\n[retention]" in text and "# The feed." not in text


def test_a_file_tomlkit_would_reorder_is_left_alone(tmp_path):
    path = tmp_path / "config.toml"
    original = (
        '[[sources]]\nname = "a"\nkind = "csv"\nlocation = "a"\n\n[retention]\nraw_text_days = 1\n\n'
        '[[sources]]\nname = "b"\nkind = "csv"\nlocation = "b"\n'
    )
    path.write_text(original)
    with pytest.raises(ConfigError, match="cannot be edited without reordering"):
        remove_source(path, "a")
    assert path.read_text() == original
