from __future__ import annotations

import pytest

from reingest.config import Settings
from reingest.errors import ConfigurationError
from reingest.states import State


def test_defaults_live_under_reingest_home(tmp_path: object) -> None:
    settings = Settings.from_env({"REINGEST_HOME": "/srv/r"})
    assert settings.progress_url == "sqlite:////srv/r/progress.db"
    assert settings.originals_url == "file:///srv/r/originals"
    assert settings.batch_size == 100 and settings.start_state == State.NotStarted


def test_original_lambda_names_are_accepted_and_reingest_names_win() -> None:
    env = {"BATCH_SIZE": "25", "MAX_SIZE": "500", "START_STATE": "8", "REINGEST_MAX_SIZE": "700"}
    settings = Settings.from_env(env)
    assert settings.batch_size == 25 and settings.max_size == 700
    assert settings.start_state == State.UnknownError
    assert (
        Settings.from_env({"CHECKER_START_STATE": "Inconsistent"}).checker_start_state
        == State.Inconsistent
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCH_SIZE": "many"}, "BATCH_SIZE must be a number"),
        ({"REINGEST_LEASE_SECONDS": "-1"}, "LEASE_SECONDS must be positive"),
        ({"START_STATE": "42"}, "START_STATE"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)
