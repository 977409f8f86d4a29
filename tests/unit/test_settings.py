"""streams/settings.py: how the shell's entry points start from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings, SettingsError, child_environment, run_with_settings


def test_a_bad_environment_stops_the_start_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    """``rater worker`` and ``rater api`` start through run_with_settings: a bad setting is named on stderr,
    nothing starts, exit code 2."""
    started: list[Settings] = []

    def run(settings: Settings) -> int:
        started.append(settings)
        return 0

    assert run_with_settings(run, {"REDIS_URL": "redis://r"}) == 2
    assert capsys.readouterr().err == "error: KAFKA_BOOTSTRAP is required\n"
    assert started == []
    assert run_with_settings(run, {"KAFKA_BOOTSTRAP": "k:1", "REDIS_URL": "redis://r"}) == 0
    assert [settings.kafka_bootstrap for settings in started] == ["k:1"]


def test_the_exception_retention_is_read_in_seconds_with_a_30_day_default() -> None:
    """RATER_EXCEPTION_RETENTION: absent is 30 days = 30 x 24 x 3600 = 2,592,000 s; a value is taken as
    seconds; zero or a non-number is refused."""
    base = {"KAFKA_BOOTSTRAP": "k:1", "REDIS_URL": "redis://r"}
    assert Settings.from_env(base).exception_retention == 2_592_000
    assert Settings.from_env({**base, "RATER_EXCEPTION_RETENTION": "3600"}).exception_retention == 3600
    for bad in ("0", "a week"):
        with pytest.raises(SettingsError, match="RATER_EXCEPTION_RETENTION"):
            Settings.from_env({**base, "RATER_EXCEPTION_RETENTION": bad})


def test_a_command_requires_only_the_servers_it_names() -> None:
    """``rater balances`` needs Redis only, ``rater send`` Kafka only, the demo neither (it starts its own):
    ``need`` names what must be set; an unset server is the empty string, a blank text setting its default."""
    only_redis = Settings.from_env({"REDIS_URL": "redis://r", "RATER_APP_ID": "  "}, need=["REDIS_URL"])
    assert (only_redis.redis_url, only_redis.kafka_bootstrap, only_redis.app_id) == ("redis://r", "", "rater")
    assert only_redis.config == Path("config")
    with pytest.raises(SettingsError, match=r"^KAFKA_BOOTSTRAP is required$"):
        Settings.from_env({"REDIS_URL": "redis://r"}, need=["KAFKA_BOOTSTRAP"])
    neither = Settings.from_env({}, need=())
    assert (neither.kafka_bootstrap, neither.redis_url, neither.topic("usage")) == ("", "", "usage")
    with pytest.raises(SettingsError, match="RATER_REPLICATION"):  # what is set is still checked
        Settings.from_env({"RATER_REPLICATION": "three"}, need=())


def test_a_started_process_gets_this_environment_with_the_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATER_TEST_INHERITED", "kept")
    monkeypatch.setenv("RATER_APP_ID", "parent")
    env = child_environment({"RATER_APP_ID": "child"})
    assert (env["RATER_TEST_INHERITED"], env["RATER_APP_ID"]) == ("kept", "child")
