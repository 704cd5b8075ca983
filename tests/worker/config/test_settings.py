"""Settings from the environment: lists, secrets from files, empty values as unset."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from worker.config.settings import SECRET_VARIABLES, Settings


def test_clusters_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHPC_CLUSTERS", " ehpc-hz-a , ehpc-hz-b,,")

    assert Settings().clusters == ("ehpc-hz-a", "ehpc-hz-b")


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file\n")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(secret))

    token = Settings().slack_bot_token

    assert token is not None
    assert token.get_secret_value() == "xoxb-from-file"
    assert "xoxb-from-file" not in repr(Settings())


def test_an_empty_secret_file_or_variable_is_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "app-token"
    empty.write_text("\n")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_APP_TOKEN_FILE", str(empty))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")

    settings = Settings()

    assert settings.slack_app_token is None
    assert settings.slack_signing_secret is None


def test_every_secret_setting_is_in_the_one_list_of_secret_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_fields = {
        field.alias for field in Settings.model_fields.values() if field.annotation == SecretStr | None
    }
    assert secret_fields == set(SECRET_VARIABLES)
    for index, name in enumerate(SECRET_VARIABLES):
        monkeypatch.setenv(name, f"secret-value-{index}")
    assert sorted(Settings().secret_values) == sorted(
        f"secret-value-{i}" for i in range(len(SECRET_VARIABLES))
    )
