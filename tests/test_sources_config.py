import tomllib

import pytest

from monitor.errors import ConfigError
from monitor.sources_config import add_source, remove_source


def test_add_then_remove_keeps_the_rest_of_the_file(tmp_path):
    path = tmp_path / "config.toml"
    original = '# top comment\n[ingest]\nbatch_size = 5 # inline\n\n# the feed\n[[sources]]\nname = "a"\nkind = "feed"\nlocation = "x.xml"\n'
    path.write_text(original)
    add_source(path, name='b "quoted"', kind="csv", location="c:\\dir\\f.csv", columns={"text": "body"})
    data = tomllib.loads(path.read_text())
    assert data["sources"][1] == {"name": 'b "quoted"', "kind": "csv", "location": "c:\\dir\\f.csv",
                                  "columns": {"text": "body"}, "enabled": True}
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
