"""streams/settings.py: how the shell's entry points start from the environment."""

from __future__ import annotations

import pytest

from streams.settings import Settings, SettingsError, run_with_settings


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
