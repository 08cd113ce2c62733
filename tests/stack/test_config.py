"""The stack's TOML file: defaults without one, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragworks.stack import StackError
from ragworks.stack.config import StackConfig, load_stack_config, resolve_settings, settings_env


def _load(tmp_path: Path, text: str) -> StackConfig:
    path = tmp_path / "stack.toml"
    path.write_text(text)
    return load_stack_config(path)[0]


def test_no_file_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config, source = load_stack_config(None)
    assert source is None
    assert config.stack.workers == 2 and config.stack.api_workers == 1
    assert config.postgres.port == 0 and config.redis.enabled is False


def test_ragworks_toml_in_the_current_folder_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ragworks.toml").write_text("[stack]\nworkers = 5\n")
    config, source = load_stack_config(None)
    assert config.stack.workers == 5 and source == Path("ragworks.toml")


def test_every_section_is_read(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[stack]
workers = 3
api_workers = 2
stop_timeout_s = 5

[postgres]
port = 55432
options = { shared_buffers = "256MB", fsync = false }

[redis]
enabled = true
port = 6380

[settings]
log_level = "DEBUG"
[settings.server]
port = 9000
""",
    )
    assert (config.stack.workers, config.stack.api_workers, config.stack.stop_timeout_s) == (3, 2, 5.0)
    assert config.postgres.options == {"shared_buffers": "256MB", "fsync": False}
    assert config.redis.port == 6380
    assert config.settings == {"log_level": "DEBUG", "server": {"port": 9000}}


def test_an_unknown_key_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        StackError, match=r"stack\.toml: stack\.worker: unknown key \(known: workers, api_workers"
    ):
        _load(tmp_path, "[stack]\nworker = 3\n")


def test_an_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        StackError, match=r"postgress: unknown key \(known: stack, postgres, redis, settings\)"
    ):
        _load(tmp_path, "[postgress]\nport = 1\n")


def test_a_bad_value_is_named_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"stack\.workers: Input should be greater than or equal to 0"):
        _load(tmp_path, "[stack]\nworkers = -1\n")
    with pytest.raises(StackError, match=r"postgres\.port: Input should be a valid integer"):
        _load(tmp_path, '[postgres]\nport = "high"\n')


def test_a_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"stack\.toml is not valid TOML: .*line 1"):
        _load(tmp_path, "[stack\n")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cannot read the config file .*nope.toml"):
        load_stack_config(tmp_path / "nope.toml")


def test_an_unknown_ragworks_setting_is_named(tmp_path: Path) -> None:
    path = tmp_path / "stack.toml"
    path.write_text("[settings.server]\nprot = 9000\n")
    config, source = load_stack_config(path)
    with pytest.raises(StackError, match=r"settings\.server\.prot: unknown key \(known: host, port"):
        resolve_settings(config, source)


def test_a_bad_ragworks_setting_is_named(tmp_path: Path) -> None:
    path = tmp_path / "stack.toml"
    path.write_text('[settings.jobs]\nlease_s = "long"\n')
    config, source = load_stack_config(path)
    with pytest.raises(StackError, match=r"settings\.jobs\.lease_s: Input should be a valid number"):
        resolve_settings(config, source)


def test_file_settings_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGWORKS_SERVER__PORT", "7000")
    monkeypatch.setenv("RAGWORKS_SERVER__HOST", "0.0.0.0")
    settings = resolve_settings(StackConfig(settings={"server": {"port": 9000}}), None)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)


def test_settings_become_the_environment_ragworks_reads() -> None:
    table = {"data_dir": "/d", "log_json": False, "server": {"port": 9000}, "llm": {"provider": "extractive"}}
    assert settings_env(table) == {
        "RAGWORKS_DATA_DIR": "/d",
        "RAGWORKS_LOG_JSON": "false",
        "RAGWORKS_SERVER__PORT": "9000",
        "RAGWORKS_LLM__PROVIDER": "extractive",
    }
