"""What a destination is configured with, and what the worker hands every notifier it builds.

A target is one named destination of the ``targets:`` list in the ``EHPC_CONFIG`` file. Each vendor
declares a :class:`TargetConfig` subclass (``<Vendor>Target``) with its own settings; secrets are only
ever named by environment variable (:data:`EnvSecret`), resolved when the file is loaded, so a missing
variable is a load error and the value never sits in a file or a log.

The worker passes shared things through :class:`NotifierContext`, typed by the small protocols below,
so ``integrations/`` never imports ``worker/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationInfo

from integrations.base import DeliveryStores
from integrations.incident import IncidentLedger, IncidentOrder

__all__ = [
    "EnvSecret",
    "MissingSettingError",
    "NotifierContext",
    "SecretFromEnv",
    "SlackAccess",
    "SlackTarget",
    "StateStore",
    "TargetConfig",
    "TargetSetupError",
    "ThreadLinks",
    "secret_from_file",
]


class TargetSetupError(Exception):
    """A target can't be built with what this deployment gives it (no channel, no token, no factory)."""


class MissingSettingError(TargetSetupError):
    """A setting the deployment must give is missing: ``variable`` names it, ``cluster_id`` where it lacks."""

    def __init__(self, message: str, *, variable: str, cluster_id: str = "") -> None:
        super().__init__(message)
        self.variable = variable
        self.cluster_id = cluster_id


class SecretFromEnv(BaseModel):
    """A secret named by environment variable in the file, with its value read at load."""

    model_config = ConfigDict(frozen=True)

    variable: str
    value: SecretStr

    def get(self) -> str:
        """The secret itself, for the one call that sends it."""
        return self.value.get_secret_value()

    def __str__(self) -> str:
        return f"${self.variable}"


def secret_from_file(environ: Mapping[str, str], name: str) -> str | None:
    """The secret in the file named by ``<name>_FILE`` (Compose secrets), stripped; None if unset or empty."""
    path = environ.get(f"{name}_FILE")
    if not path:
        return None
    return Path(path).read_text(encoding="utf-8").strip() or None


def _resolve_env(value: object, info: ValidationInfo) -> object:
    """Read the variable named by ``value`` (or ``<NAME>_FILE``); the context may supply ``environ``."""
    if isinstance(value, SecretFromEnv):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the name of an environment variable holding the secret")
    name = value.strip()
    context = info.context if isinstance(info.context, Mapping) else {}
    environ: Mapping[str, str] = context.get("environ", os.environ)
    secret = environ.get(name) or secret_from_file(environ, name)
    if not secret:
        raise ValueError(f"environment variable {name} is not set (or empty)")
    return SecretFromEnv(variable=name, value=SecretStr(secret))


EnvSecret = Annotated[SecretFromEnv, BeforeValidator(_resolve_env)]
"""A config field ``<secret>_env: NAME``: validated from the variable's name into its value."""


class TargetConfig(BaseModel):
    """Settings every target has; vendors subclass it and set ``type`` to their registry name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    type: str

    def secret_values(self) -> tuple[str, ...]:
        """Every secret this target holds, for scrubbing vendor answers and the log filter."""
        return tuple(value.get() for value in self.__dict__.values() if isinstance(value, SecretFromEnv))

    def scope(self, *, cluster_id: str, cluster_channel: str | None, default_channel: str | None) -> str:
        """What one notifier of this target serves for a cluster; "" = one notifier for every cluster."""
        return ""

    def access_problems(self, *, slack: SlackAccess | None) -> list[MissingSettingError]:
        """What the deployment lacks for this target beyond its own fields (none for most vendors)."""
        return []

    def longest_call(self, *, slack: SlackAccess | None, session_timeout: float) -> float:
        """Seconds one call to this target may take: the shared HTTP session's timeouts for most vendors."""
        return session_timeout


class SlackTarget(TargetConfig):
    """The built-in Slack destination; ``channel`` defaults to the cluster's, then ``SLACK_CHANNEL``."""

    type: str = "slack"
    channel: str | None = None

    def scope(self, *, cluster_id: str, cluster_channel: str | None, default_channel: str | None) -> str:
        """The channel a cluster's messages go to: the target's own, the cluster's, or ``SLACK_CHANNEL``."""
        channel = self.channel or cluster_channel or default_channel
        if not channel:
            raise MissingSettingError(
                f"no Slack channel for cluster {cluster_id}: set SLACK_CHANNEL",
                variable="SLACK_CHANNEL",
                cluster_id=cluster_id,
            )
        return channel

    def longest_call(self, *, slack: SlackAccess | None, session_timeout: float) -> float:
        """One Web API call's timeout (``EHPC_SLACK_TIMEOUT``); Slack has its own SDK client."""
        return float(slack.timeout) if slack is not None else session_timeout

    def access_problems(self, *, slack: SlackAccess | None) -> list[MissingSettingError]:
        """The bot token, which the deployment gives every Slack target (``SLACK_BOT_TOKEN``)."""
        if slack is None or slack.token is None:
            return [MissingSettingError("SLACK_BOT_TOKEN is not set", variable="SLACK_BOT_TOKEN")]
        return []


@dataclass(frozen=True)
class SlackAccess:
    """The bot token and Web API base URL of the deployment's Slack app (None token: not configured)."""

    token: SecretStr | None
    base_url: str
    timeout: int = 10  # seconds one Web API call may take (EHPC_SLACK_TIMEOUT)
    # Counts a lookup Slack refused (channel, error): the message was posted without one.
    on_history_refused: Callable[[str, str], None] | None = None


class StateStore(Protocol):
    """Small durable strings a notifier keeps per target (a Jira issue key per task, …).

    The worker implements it on Redis with keys from ``worker.store.keys``, scoped to one target.
    """

    def get(self, name: str) -> str | None:
        """The value stored under ``name``, or None."""

    def set(self, name: str, value: str, *, ttl_seconds: int | None = None) -> None:
        """Store ``value`` under ``name``, optionally expiring."""


class ThreadLinks(Protocol):
    """Where people discuss a task: the Slack thread of its message, when one was posted."""

    def permalink(self, *, task_key: str) -> str | None:
        """A URL to the Slack thread of ``task_key``, or None when unknown."""


@dataclass(frozen=True)
class NotifierContext:
    """Shared things the worker gives every notifier; all optional so tests pass only what they need.

    ``state_for(target_name)`` returns a :class:`StateStore` scoped to that target, ``incidents_for`` its
    :class:`~integrations.incident.IncidentLedger` (how failures and successes are ordered), ``stores_for``
    the delivery stores of a pacing policy; ``scope`` is what :meth:`TargetConfig.scope` said for the
    notifier being built (Slack: its channel). What only one integration needs is a typed field, not a dict
    entry.
    """

    state_for: Callable[[str], StateStore] | None = None
    thread_links: ThreadLinks | None = None
    scope: str = ""
    stores_for: Callable[[str], DeliveryStores] | None = None
    slack: SlackAccess | None = None
    incidents_for: Callable[[str], IncidentLedger] | None = None
    # Run before every vendor call a notifier makes outside the shared session (the worker renews the
    # delivery's lease there: worker.deliver.fence).
    before_call: Callable[[], None] | None = None

    def incident_order(self, target_name: str) -> IncidentOrder:
        """How ``target_name`` orders failures and successes (stateless without ``incidents_for``)."""
        return IncidentOrder(self.incidents_for(target_name) if self.incidents_for else None)
