"""Settings: file -> environment -> command line, path resolution, and start-up errors
that name the key, where it came from, and the fix (monitor/settings.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import StartupError
from monitor.settings import (
    Settings,
    env_name,
    load_settings,
    parse_set_option,
    setting_names,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder, so config/monitor.toml of the repository is never read."""
    monkeypatch.chdir(tmp_path)


def config(tmp_path: Path, text: str, folder: str = "conf") -> Path:
    path = tmp_path / folder / "monitor.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def startup_error(*args, **kwargs) -> str:
    with pytest.raises(StartupError) as info:
        load_settings(*args, **kwargs)
    return str(info.value)


# --- precedence -------------------------------------------------------------------


def test_defaults_without_file_environment_or_overrides():
    s = load_settings(None, None, environ={})
    assert s.workers == 8
    assert s.poll_interval_minutes == 30.0
    assert s.data_dir == Path("data")
    assert s.feeds_file == Path("config/feeds.toml")
    assert s.seed_dir is None
    assert s.log_level == "INFO"


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        ({}, {}, 3),
        ({"MONITOR_WORKERS": "5"}, {}, 5),
        ({"MONITOR_WORKERS": "5"}, {"workers": "7"}, 7),
        ({}, {"workers": 7}, 7),
        ({"MONITOR_WORKERS": "5"}, {"workers": None}, 5),  # an option not given
    ],
)
def test_file_then_environment_then_command_line(tmp_path, env, overrides, expected):
    path = config(tmp_path, "workers = 3\nper_host_concurrency = 4\n")
    s = load_settings(path, overrides, environ=env)
    assert s.workers == expected
    assert s.per_host_concurrency == 4  # keys not overridden keep the file's value


def test_each_key_comes_from_its_own_highest_source(tmp_path):
    path = config(tmp_path, 'workers = 3\nlog_format = "json"\nmax_redirects = 2\n')
    s = load_settings(
        path,
        {"max_redirects": "9"},
        environ={"MONITOR_LOG_FORMAT": "text", "MONITOR_JITTER_FRACTION": "0.25"},
    )
    assert (s.workers, s.log_format, s.max_redirects, s.jitter_fraction) == (3, "text", 9, 0.25)


def test_monitor_config_names_the_file_and_config_path_beats_it(tmp_path):
    from_env = config(tmp_path, "workers = 11\n", folder="env")
    explicit = config(tmp_path, "workers = 12\n", folder="cli")
    assert load_settings(None, environ={"MONITOR_CONFIG": str(from_env)}).workers == 11
    assert load_settings(explicit, environ={"MONITOR_CONFIG": str(from_env)}).workers == 12


def test_default_config_file_is_read_from_the_working_directory(tmp_path):
    config(tmp_path, "workers = 13\n", folder="config")
    assert load_settings(None, environ={}).workers == 13


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("1", True), ("false", False), ("no", False)]
)
def test_booleans_from_the_environment(value, expected):
    s = load_settings(None, environ={"MONITOR_ADAPTIVE_POLLING": value})
    assert s.adaptive_polling is expected


# --- paths ------------------------------------------------------------------------


def test_relative_paths_in_the_file_resolve_against_its_folder(tmp_path):
    path = config(tmp_path, 'data_dir = "state"\nseed_dir = "../seed"\n')
    s = load_settings(path, environ={})
    assert s.data_dir == tmp_path / "conf" / "state"
    assert s.seed_dir == tmp_path / "conf" / "../seed"
    assert s.feeds_file == tmp_path / "conf" / "feeds.toml"  # next to the settings file
    assert s.state_db_path == tmp_path / "conf" / "state" / "state.sqlite3"
    assert s.store_db_path == tmp_path / "conf" / "state" / "store.sqlite3"
    assert s.imported_feeds_path == tmp_path / "conf" / "state" / "imported-feeds.toml"


def test_absolute_paths_in_the_file_are_kept(tmp_path):
    path = config(tmp_path, f'feeds_file = "{tmp_path / "elsewhere" / "f.toml"}"\n')
    assert load_settings(path, environ={}).feeds_file == tmp_path / "elsewhere" / "f.toml"


def test_relative_paths_from_environment_and_command_line_resolve_against_cwd(tmp_path):
    path = config(tmp_path, 'data_dir = "state"\n')
    s = load_settings(
        path, {"feeds_file": "mine/feeds.toml"}, environ={"MONITOR_DATA_DIR": "rel/data"}
    )
    assert s.data_dir == Path("rel/data")
    assert s.data_dir.resolve() == tmp_path / "rel" / "data"
    assert s.feeds_file == Path("mine/feeds.toml")
    assert s.feeds_file.resolve() == tmp_path / "mine" / "feeds.toml"


@pytest.mark.parametrize("source", ["file", "env", "set"])
def test_empty_seed_dir_means_the_packaged_copy_from_every_source(tmp_path, source):
    path = config(tmp_path, 'seed_dir = ""\n' if source == "file" else "")
    env = {"MONITOR_SEED_DIR": ""} if source == "env" else {}
    overrides = parse_set_option(["seed_dir="]) if source == "set" else {}
    assert load_settings(path, overrides, environ=env).seed_dir is None


# --- unknown keys -----------------------------------------------------------------


def test_unknown_key_in_the_file_names_key_file_and_close_match(tmp_path):
    path = config(tmp_path, "wokers = 3\n")
    message = startup_error(path, environ={})
    assert message == f"unknown setting `wokers` in {path}; did you mean `workers`?"


def test_unknown_environment_variable_names_the_variable():
    message = startup_error(None, environ={"MONITOR_POLL_INTERVAL": "10"})
    assert message == (
        "unknown setting `poll_interval` in environment variable MONITOR_POLL_INTERVAL; "
        "did you mean `poll_interval_minutes`?"
    )


def test_unknown_set_option_names_the_command_line():
    message = startup_error(None, parse_set_option(["log_levl=DEBUG"]), environ={})
    assert message == "unknown setting `log_levl` in the command line; did you mean `log_level`?"


def test_unknown_key_without_close_match_points_at_config_show():
    message = startup_error(None, {"zzzz": "1"}, environ={})
    assert message == (
        "unknown setting `zzzz` in the command line; see `monitor config show` for all keys"
    )


def test_a_table_in_the_file_is_an_unknown_key(tmp_path):
    path = config(tmp_path, "[fetch]\nworkers = 3\n")
    assert startup_error(path, environ={}).startswith(f"unknown setting `fetch` in {path}")


def test_test_bench_and_config_variables_are_not_settings(tmp_path):
    path = config(tmp_path, "workers = 2\n")
    env = {
        "MONITOR_CONFIG": str(path),
        "MONITOR_TEST_FEEDS": "1",
        "MONITOR_BENCH_ARTICLES": "100000",
        "HOME": "/home/x",
        "monitor_workers": "40",  # not the prefix: case matters
    }
    assert load_settings(None, environ=env).workers == 2


def test_a_misspelt_config_variable_is_reported_not_ignored(tmp_path):
    path = config(tmp_path, "workers = 2\n")
    message = startup_error(None, environ={"MONITOR_CONFIG_FILE": str(path)})
    assert message.startswith("unknown setting `config_file` in environment variable ")


# --- bad values -------------------------------------------------------------------


def test_bad_value_in_the_file_names_key_origin_value_and_fix(tmp_path):
    path = config(tmp_path, "workers = 0\n")
    assert startup_error(path, environ={}) == (
        f"setting `workers` from {path} is 0: Input should be greater than or equal to 1. "
        "Fix: give `workers` a valid value (Feeds polled at the same time.)"
    )


def test_bad_value_from_the_environment():
    message = startup_error(None, environ={"MONITOR_POLL_INTERVAL_MINUTES": "soon"})
    assert message.startswith(
        "setting `poll_interval_minutes` from environment variable "
        "MONITOR_POLL_INTERVAL_MINUTES is 'soon': Input should be a valid number"
    )
    assert message.endswith(
        "Fix: give `poll_interval_minutes` a valid value "
        "(Default interval between polls of one feed.)"
    )


def test_bad_value_from_the_command_line_lists_the_choices():
    message = startup_error(None, parse_set_option(["log_level=LOUD"]), environ={})
    assert message == (
        "setting `log_level` from the command line is 'LOUD': "
        "Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'. "
        "Fix: give `log_level` a valid value (Log level.)"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("poll_interval_minutes", "4"),
        ("poll_interval_minutes", "nan"),
        ("jitter_fraction", "0.6"),
        ("workers", "2.5"),
        ("workers", "65"),
        ("shutdown_grace_seconds", "10"),
        ("user_agent", "short"),
        ("log_format", "xml"),
        ("load_seed_on_start", "maybe"),
        ("connect_timeout_seconds", "0"),
    ],
)
def test_out_of_range_values_stop_start_up(key, value):
    message = startup_error(None, environ={env_name(key): value})
    assert message.startswith(f"setting `{key}` from environment variable {env_name(key)} is ")


def test_every_bad_value_gets_its_own_line(tmp_path):
    path = config(tmp_path, 'workers = 0\nlog_level = "LOUD"\n')
    lines = startup_error(path, environ={}).splitlines()
    assert [line.split("`")[1] for line in lines] == ["workers", "log_level"]


def test_invalid_toml_names_the_file(tmp_path):
    path = config(tmp_path, "workers = = 3\n")
    message = startup_error(path, environ={})
    assert message.startswith(f"{path}: not valid TOML (")
    assert message.endswith("); fix the syntax there")


def test_a_folder_as_config_file_cannot_be_read(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    assert startup_error(tmp_path / "dir.toml", environ={}).startswith(
        f"{tmp_path / 'dir.toml'}: cannot be read ("
    )


def test_missing_explicit_config_file(tmp_path):
    missing = tmp_path / "nope.toml"
    assert startup_error(missing, environ={}) == (
        f"config file {missing} (from --config) does not exist; fix --config"
    )


def test_missing_config_file_from_the_environment_names_the_variable(tmp_path):
    missing = tmp_path / "nope.toml"
    assert startup_error(None, environ={"MONITOR_CONFIG": str(missing)}) == (
        f"config file {missing} (from MONITOR_CONFIG) does not exist; fix MONITOR_CONFIG"
    )


# --- parse_set_option -------------------------------------------------------------


def test_parse_set_option_splits_on_the_first_equals_sign():
    parsed = parse_set_option(["workers=4", " log_level =DEBUG", "user_agent=a=b (c)", "x="])
    assert parsed == {"workers": "4", "log_level": "DEBUG", "user_agent": "a=b (c)", "x": ""}


def test_parse_set_option_later_wins_and_nothing_is_empty():
    assert parse_set_option(["workers=4", "workers=6"]) == {"workers": "6"}
    assert parse_set_option([]) == {}
    assert parse_set_option(None) == {}


@pytest.mark.parametrize("item", ["workers", "=4", " =4", ""])
def test_parse_set_option_rejects_malformed_items(item):
    with pytest.raises(StartupError) as info:
        parse_set_option(["log_level=INFO", item])
    assert str(info.value) == f"--set {item!r}: expected KEY=VALUE, e.g. --set workers=4"


def test_set_values_are_validated_like_any_other():
    s = load_settings(None, parse_set_option(["workers=4", "adaptive_polling=false"]), environ={})
    assert (s.workers, s.adaptive_polling) == (4, False)


# --- names and redaction ----------------------------------------------------------


def test_every_setting_has_an_environment_variable_and_a_description():
    names = setting_names()
    assert names[:3] == ["data_dir", "feeds_file", "seed_dir"]
    for name in names:
        assert env_name(name) == "MONITOR_" + name.upper()
        assert Settings.model_fields[name].description
    assert env_name("poll_interval_minutes") == "MONITOR_POLL_INTERVAL_MINUTES"


def test_redacted_gives_plain_json_values_for_every_key(tmp_path):
    path = config(tmp_path, 'data_dir = "state"\n')
    out = load_settings(path, environ={}).redacted()
    assert list(out) == setting_names()
    assert out["data_dir"] == str(tmp_path / "conf" / "state")
    assert out["seed_dir"] is None
    assert out["workers"] == 8
    assert out["log_level"] == "INFO"
    assert json.loads(json.dumps(out)) == out


def test_redacted_hides_secrets_and_shows_an_unset_one_as_empty():
    settings = load_settings(None, {"elasticsearch_password": "s3cret"}, environ={})
    assert settings.redacted()["elasticsearch_password"] == "********"
    assert settings.redacted()["elasticsearch_api_key"] == ""
    assert "s3cret" not in json.dumps(settings.redacted())
    assert "s3cret" not in repr(settings)
    assert settings.elasticsearch_password.get_secret_value() == "s3cret"


# --- secrets from files -------------------------------------------------------------


def test_a_secret_comes_from_the_file_named_by_its_file_variable(tmp_path):
    secret = tmp_path / "es-password"
    secret.write_text("from-a-file\n")  # Docker secrets end with a newline
    env = {"MONITOR_ELASTICSEARCH_PASSWORD_FILE": str(secret)}
    settings = load_settings(None, environ=env)
    assert settings.elasticsearch_password.get_secret_value() == "from-a-file"


def test_a_secret_file_in_the_config_file_resolves_against_its_folder(tmp_path):
    path = config(tmp_path, 'elasticsearch_api_key_file = "secrets/key"\n')
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets" / "key").write_text("aWQ6a2V5")
    assert load_settings(path, environ={}).elasticsearch_api_key.get_secret_value() == "aWQ6a2V5"


def test_an_unreadable_secret_file_names_the_variable_and_the_path(tmp_path):
    env = {"MONITOR_ELASTICSEARCH_PASSWORD_FILE": str(tmp_path / "missing")}
    message = startup_error(None, environ=env)
    assert "`elasticsearch_password_file` from environment variable" in message
    assert str(tmp_path / "missing") in message and "cannot be read" in message


def test_a_secret_and_its_file_together_are_refused(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x")
    env = {
        "MONITOR_ELASTICSEARCH_PASSWORD": "y",
        "MONITOR_ELASTICSEARCH_PASSWORD_FILE": str(secret),
    }
    assert "keep one of them" in startup_error(None, environ=env)


def test_only_secrets_have_file_variants():
    message = startup_error(None, environ={"MONITOR_WORKERS_FILE": "/x"})
    assert "unknown setting `workers_file`" in message


@pytest.mark.parametrize(
    "key, value",
    [("elasticsearch_url", "localhost:9200"), ("elasticsearch_index", "Monitor Articles"),
     ("kibana_url", "ftp://kibana")],
)  # fmt: skip
def test_elasticsearch_and_kibana_addresses_are_checked(key, value):
    message = startup_error(None, {key: value}, environ={})
    assert f"setting `{key}`" in message
