"""Process settings from the environment (pydantic-settings); these variable names are the public interface.

Secrets are ``SecretStr`` and each may also be given as a file: ``SLACK_BOT_TOKEN_FILE=/run/secrets/x``
(Compose secrets) is read when ``SLACK_BOT_TOKEN`` itself is unset.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from integrations.target import secret_from_file

__all__ = ["SECRET_VARIABLES", "ApiChoice", "Settings"]

# Which E-HPC API a cluster is polled with: 1.0 (ListTasks), 2.0 (operation logs), or ask the 2024 API once.
ApiChoice = Literal["2018-04-12", "2024-07-30", "auto"]

SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "EHPC_EVENTBRIDGE_TOKEN",
)


class Settings(BaseSettings):
    """Everything a process of ehpc-bridge reads from its environment."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    redis_url: str = Field(default="redis://localhost:6379/0", alias="REDIS_URL")
    redis_prefix: str = Field(default="ehpc", alias="EHPC_REDIS_PREFIX", pattern=r"^[A-Za-z0-9_.-]+$")
    clusters: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="EHPC_CLUSTERS")
    poll_interval: float = Field(default=30.0, alias="EHPC_POLL_INTERVAL", gt=0)
    # A vanished task whose TaskId lookup failed this many times in a row is closed as "lost track".
    lost_after: int = Field(default=5, alias="EHPC_LOST_AFTER", ge=1, le=1000)
    announce_running_on_baseline: bool = Field(default=True, alias="EHPC_ANNOUNCE_RUNNING_ON_BASELINE")
    config_path: Path | None = Field(default=None, alias="EHPC_CONFIG")
    region: str = Field(default="cn-hangzhou", alias="EHPC_REGION")
    api: ApiChoice = Field(default="2018-04-12", alias="EHPC_API")  # a cluster's own `api:` wins
    oplog_overlap: float = Field(default=120.0, alias="EHPC_OPLOG_OVERLAP", ge=1)
    oplog_lookback: float = Field(default=86400.0, alias="EHPC_OPLOG_LOOKBACK", ge=60)
    endpoint: str | None = Field(default=None, alias="EHPC_ENDPOINT")
    # Read here (when the settings are built) rather than by the credentials library at its import time;
    # without them the SDK's standard chain applies (CLI profile, OIDC, ECS RAM role, …).
    access_key_id: str | None = Field(default=None, alias="ALIBABA_CLOUD_ACCESS_KEY_ID")
    access_key_secret: SecretStr | None = Field(default=None, alias="ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    security_token: SecretStr | None = Field(default=None, alias="ALIBABA_CLOUD_SECURITY_TOKEN")
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_channel: str | None = Field(default=None, alias="SLACK_CHANNEL")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_rate: float = Field(default=1.0, alias="EHPC_SLACK_RATE", gt=0)  # messages/second/channel
    slack_burst: int = Field(default=3, alias="EHPC_SLACK_BURST", ge=1)
    slack_edit_interval: float = Field(default=5.0, alias="EHPC_SLACK_EDIT_INTERVAL", ge=0)
    # Failed attempts at one transition before it is dead-lettered; with back-off capped at 5 min the
    # default is about a day. Waiting for the Slack budget or a lease is never an attempt.
    delivery_attempts: int = Field(default=500, alias="EHPC_DELIVERY_ATTEMPTS", ge=1)
    # Seconds one Slack call may take before it counts as unanswered (then looked up before re-posting).
    slack_timeout: int = Field(default=10, alias="EHPC_SLACK_TIMEOUT", ge=1, le=60)
    metrics_port: int | None = Field(default=None, alias="EHPC_METRICS_PORT")
    # POST /eventbridge (worker.hints): the token EventBridge's HTTP target sends; unset, every event is 401.
    eventbridge_token: SecretStr | None = Field(default=None, alias="EHPC_EVENTBRIDGE_TOKEN")
    # At most one event-hinted poll of a cluster per this many seconds (the beat's polls are not counted).
    eventbridge_hint_interval: float = Field(default=5.0, alias="EHPC_EVENTBRIDGE_HINT_INTERVAL", ge=0)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Fill ``NAME`` from the file named by ``NAME_FILE`` when only the latter is set.

        An empty file counts as unset (as an empty variable does), not as an empty secret.
        """
        if not isinstance(data, dict):
            return data
        for name in SECRET_VARIABLES:
            if not data.get(name) and not os.environ.get(name):
                value = secret_from_file(os.environ, name)
                if value:
                    data[name] = value
        return data

    @field_validator("clusters", mode="before")
    @classmethod
    def _split_clusters(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "endpoint",
        "slack_channel",
        "config_path",
        "access_key_id",
        "access_key_secret",
        "security_token",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "eventbridge_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @cached_property
    def secret_values(self) -> tuple[str, ...]:
        """The secret strings this process knows, for the log filter that masks them."""
        fields = [name for name, field in type(self).model_fields.items() if field.alias in SECRET_VARIABLES]
        secrets = [getattr(self, name) for name in fields]
        found = [secret.get_secret_value() for secret in secrets if isinstance(secret, SecretStr)]
        return tuple(value for value in found if len(value) >= 4)
