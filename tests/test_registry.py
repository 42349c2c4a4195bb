"""feeds.toml is checked whole: a registry the operator got wrong stops the cycle with one line
naming file, line and key (exit 2), and a change that disables most feeds needs a flag."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import cli
from pipeline import tasks as ingest
from pipeline.errors import ConfigError
from pipeline.records import Feed
from pipeline.registry import MAX_BYTES, check_disabling, load_feeds
from tests.conftest import make_settings
from tests.localweb import sample_feeds_toml

GOOD = '[[feed]]\nname = "a"\nurl = "https://a.pe/rss"\n'


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("", 1, "no [[feed]] table"),
        ("# only comments\n\n# here\n", 1, "no [[feed]] table"),
        ('[[feeds]]\nname = "a"\nurl = "https://a.pe/rss"\n', 1, "'feeds' (did you mean [[feed]]?)"),
        (
            GOOD + '\n[[feed]]\nname = "b"\nurl = "https://b.pe/rss"\nenable = false\n',
            8,
            "'enable' (did you mean 'enabled'?)",
        ),
        (GOOD + 'lang = "es"\n', 4, "unknown key 'lang'"),
        ('title = "x"\n' + GOOD, 1, "unknown table or key 'title'"),
        ('[feed]\nname = "a"\nurl = "https://a.pe/rss"\n', 1, "[[feed]] tables"),
        ('[[feed]]\nname = "a"\nurl = "https://a.pe/my feed.xml"\n', 3, "spaces or control characters"),
        ('[[feed]]\nname = "a"\nurl = " https://a.pe/rss"\n', 3, "spaces or control characters"),
        ('[[feed]]\nname = "a"\nurl = "https://user:pass@a.pe/rss"\n', 3, "user name or password"),
        ('[[feed]]\nname = "a"\nurl = "https://a.pe:99999/rss"\n', 3, "url"),
        ('[[feed]]\nname = "a"\nurl = "http://127.0.0.1:-1/rss"\n', 3, "url"),
        ('[[feed]]\nname = "a"\nurl = "http://[::1/rss"\n', 3, "url"),
        ('[[feed]]\nname = "a"\nurl = "http://0177.0.0.1/rss"\n', 3, "non-standard form"),
        ('[[feed]]\nname = "a"\nurl = "ftp://a.pe/rss"\n', 3, "scheme 'ftp'"),
        ('[[feed]]\nname = "a"\nurl = "/rss"\n', 3, "url"),
        ('[[feed]]\nname = "a"\nurl = 42\n', 3, "url must be a string"),
        ('[[feed]]\nname = "a"\n', 1, "has no url"),
        ('[[feed]]\nurl = "https://a.pe/rss"\n', 1, "has no name"),
        ('[[feed]]\nname = "A b"\nurl = "https://a.pe/rss"\n', 2, "name must be"),
        (GOOD + 'enabled = "no"\n', 4, "enabled must be true or false"),
        (GOOD + "enabled = 0\n", 4, "enabled must be true or false"),
        (GOOD + 'language = "español"\n', 4, "language must be a language tag"),
        (GOOD + "language = 3\n", 4, "language must be a language tag"),
        (GOOD + GOOD.replace("a.pe", "b.pe"), 5, "already used by feed #1"),
        (GOOD + "url = https://b.pe\n", 4, "not valid TOML"),
        ('[[feed]]\nname = "a"\nurl = "https://a.pe/rss"\nurl = "https://b.pe/rss"\n', 4, "not valid TOML"),
        ('feed = [{name = "a", url = "https://a.pe/rss", enable = true}]\n', 1, "unknown key 'enable'"),
        ('feed = "https://a.pe/rss"\n', 1, "[[feed]] tables"),
    ],
)
def test_registry_mistakes_name_file_line_and_key(tmp_path, text, line, says):
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_feeds(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert says in message and "\n" not in message


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "feeds.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_feeds(path) == [Feed("a", "https://a.pe/rss")]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'[[feed]]\nname = "caf\xe9"\nurl = "https://a.pe/rss"\n', ":2: not UTF-8"),
        (b"\xff\xfe" + GOOD.encode("utf-16-le"), ":1: not UTF-8"),  # UTF-16 is not a TOML encoding
        (b"\0" * 100, "not valid TOML"),
        (GOOD.encode() * (MAX_BYTES // len(GOOD) + 1), "larger than 32 MiB"),
    ],
)
def test_unreadable_registries_are_configuration_errors(tmp_path, content, says):
    path = tmp_path / "feeds.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=says.replace("[", r"\[")):
        load_feeds(path)


@pytest.mark.parametrize(
    ("where", "says"),
    [("/dev/zero", "larger than 32 MiB"), ("{tmp}", "is a directory"), ("{tmp}/none.toml", "not found")],
)
def test_devices_directories_and_missing_files(tmp_path, where, says):
    with pytest.raises(ConfigError, match=says):
        load_feeds(__import__("pathlib").Path(where.format(tmp=tmp_path)))


def test_the_cli_exits_2_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    db = tmp_path / "v.duckdb"
    for text, says in [
        ("", "no [[feed]] table"),
        ('[[feeds]]\nname = "a"\nurl = "https://a.pe/rss"\n', ":1: unknown table or key 'feeds'"),
        (GOOD + "enable = false\n", ":4: feed 'a': unknown key 'enable'"),
        ('[[feed]]\nname = "a"\nurl = "http://127.0.0.1:99999/x"\n', ":3: feed 'a': url must be"),
    ]:
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(text, encoding="utf-8")
        assert cli.main(["run", "--feeds", str(feeds), "--db", str(db)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"configuration error: {feeds}:") and says in err[0], err
    monkeypatch.setenv("VIGIA_FEEDS", "/dev/zero")
    assert cli.main(["run", "--db", str(db)]) == 2
    assert "larger than 32 MiB" in capsys.readouterr().err
    assert not db.exists()


# ---------------------------------------------------------------- disabling most feeds needs a flag


def test_check_disabling_counts_disabled_and_removed_feeds():
    before = {"a", "b", "c", "d"}
    two_off = [
        Feed("a", "https://a.pe/"),
        Feed("b", "https://b.pe/"),
        Feed("c", "https://c.pe/", enabled=False),
    ]
    check_disabling(before, two_off, allow=False, path="feeds.toml")  # c disabled, d removed: half, allowed
    three_off = [Feed("a", "https://a.pe/"), Feed("b", "https://b.pe/", enabled=False)]
    with pytest.raises(ConfigError, match="disables 3 of the 4 enabled feeds"):
        check_disabling(before, three_off, allow=False, path="feeds.toml")
    check_disabling(before, three_off, allow=True, path="feeds.toml")
    check_disabling(set(), three_off, allow=False, path="feeds.toml")  # a new database: nothing to compare


def test_a_registry_that_disables_most_feeds_is_refused_without_the_flag(tmp_path, sample_web, capsys):
    settings = make_settings(tmp_path, sample_feeds_toml(sample_web.base))
    first = ingest.run_once(settings)
    assert first.feeds_ok == 4
    # Three of the four feeds disabled (one of them by deleting it): a truncated file, a bad merge.
    kept = sample_feeds_toml(sample_web.base).split("[[feed]]")[1:]
    settings.feeds_path.write_text(
        "[[feed]]"
        + kept[0]
        + "[[feed]]"
        + kept[1]
        + "enabled = false\n\n"
        + "[[feed]]"
        + kept[2]
        + "enabled = false\n",
        encoding="utf-8",
    )
    requests = len(sample_web.requests)
    args = ["run", "--feeds", str(settings.feeds_path), "--db", str(settings.db_path)]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
        assert cli.main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert (
            len(err) == 1
            and "disables 3 of the 4 enabled feeds" in err[0]
            and "--allow-mass-disable" in err[0]
        )
        assert len(sample_web.requests) == requests  # refused before anything was downloaded
        with duckdb.connect(str(settings.db_path), read_only=True) as con:
            assert con.execute("select count(*) from feeds where enabled").fetchone()[0] == 4
        # The load refuses too (the DAG's load reads feeds.toml again, after the plan).
        with pytest.raises(ConfigError, match="disables 3"):
            ingest.load(settings, ingest.staging.batch_tables(ingest.Batch()), "run-x")

        assert cli.main([*args, "--allow-mass-disable"]) == 0
        capsys.readouterr()
        with duckdb.connect(str(settings.db_path), read_only=True) as con:
            assert con.execute("select count(*) from feeds where enabled").fetchone()[0] == 1
        assert cli.main(args) == 0  # the next cycles compare with the new state
