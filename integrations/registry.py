"""The one map from a target ``type`` to its settings model and the factory that builds its notifier.

Adding an integration = one folder under ``integrations/``, one ``register`` line in
:func:`_builtin_registry`, one test table, one README row. The registry refuses a second registration of
a type name, so two integrations can never silently claim the same ``type:``.

``worker.config.models`` validates each ``targets:`` entry with :meth:`Registry.model_for`; the worker builds
each target's :class:`Destination` (its notifier and its delivery policy) with :func:`build_destination`,
handing over the one HTTP session and a :class:`NotifierContext`. Slack is registered like every vendor;
its policy (coalescing, budget, digests, mutes) is its entry's ``policy`` factory, everyone else's
:class:`~integrations.base.SendNow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import requests

from integrations.base import DeliveryPolicy, Notifier, SendNow
from integrations.dingtalk.notifier import DingTalkNotifier, DingTalkTarget
from integrations.jira.notifier import JiraNotifier, JiraTarget
from integrations.lark.notifier import LarkNotifier, LarkTarget
from integrations.opsgenie.notifier import OpsgenieNotifier, OpsgenieTarget
from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.servicenow.notifier import ServiceNowNotifier, ServiceNowTarget
from integrations.slack.notifier import build_slack_notifier
from integrations.slack.policy import build_slack_policy
from integrations.target import NotifierContext, SlackTarget, TargetConfig, TargetSetupError
from integrations.webhook.notifier import WebhookNotifier, WebhookTarget
from integrations.wecom.notifier import WeComNotifier, WeComTarget

__all__ = [
    "REGISTRY",
    "Destination",
    "NotifierFactory",
    "PolicyFactory",
    "Registry",
    "RegistryEntry",
    "UnknownTargetTypeError",
    "build_destination",
]

TargetT = TypeVar("TargetT", bound=TargetConfig)
TargetT_contra = TypeVar("TargetT_contra", bound=TargetConfig, contravariant=True)
NotifierT = TypeVar("NotifierT", bound=Notifier)
NotifierT_co = TypeVar("NotifierT_co", bound=Notifier, covariant=True)
NotifierT_contra = TypeVar("NotifierT_contra", bound=Notifier, contravariant=True)


class NotifierFactory(Protocol[TargetT_contra, NotifierT_co]):
    """Builds the notifier of one target; a notifier class whose ``__init__`` matches qualifies."""

    def __call__(
        self, target: TargetT_contra, *, session: requests.Session, context: NotifierContext
    ) -> NotifierT_co:
        """Return a notifier sending to ``target`` through ``session``."""


class PolicyFactory(Protocol[TargetT_contra, NotifierT_contra]):
    """Builds the delivery policy of one target around the notifier its factory built."""

    def __call__(
        self, target: TargetT_contra, *, notifier: NotifierT_contra, context: NotifierContext
    ) -> DeliveryPolicy:
        """Return the policy the delivery step asks about each transition for ``target``."""


@dataclass(frozen=True)
class RegistryEntry(Generic[TargetT, NotifierT]):
    """One integration: its settings model, its notifier factory and its policy (None: send at once)."""

    model: type[TargetT]
    factory: NotifierFactory[TargetT, NotifierT]
    policy: PolicyFactory[TargetT, NotifierT] | None = None


@dataclass(frozen=True)
class Destination:
    """A built target: what sends, and what paces the sending."""

    notifier: Notifier
    policy: DeliveryPolicy


class Registry:
    """Type name → :class:`RegistryEntry`; registration happens once per name, here, explicitly."""

    def __init__(self) -> None:
        self._entries: dict[str, RegistryEntry[Any, Any]] = {}

    def register(
        self,
        type_name: str,
        *,
        model: type[TargetT],
        factory: NotifierFactory[TargetT, NotifierT],
        policy: PolicyFactory[TargetT, NotifierT] | None = None,
    ) -> None:
        """Add ``type_name``; a second registration of the same name is a programming error."""
        if type_name in self._entries:
            raise ValueError(f"target type {type_name!r} is already registered")
        default = model.model_fields["type"].default
        if default != type_name:
            raise ValueError(f"{model.__name__}.type defaults to {default!r}, not {type_name!r}")
        self._entries[type_name] = RegistryEntry(model=model, factory=factory, policy=policy)

    @property
    def types(self) -> tuple[str, ...]:
        """Registered type names, sorted, for error messages and ``check``."""
        return tuple(sorted(self._entries))

    def model_for(self, type_name: str) -> type[TargetConfig]:
        """The settings model of ``type_name``; :class:`UnknownTargetTypeError` names the known types."""
        try:
            return self._entries[type_name].model
        except KeyError:
            raise UnknownTargetTypeError(
                f"unknown target type {type_name!r} (known: {', '.join(self.types)})"
            ) from None

    def build(
        self, target: TargetConfig, *, session: requests.Session, context: NotifierContext
    ) -> Destination:
        """Build ``target``'s notifier and delivery policy with its registered factories."""
        entry = self._entries.get(target.type)
        if entry is None or not isinstance(target, entry.model):
            raise TargetSetupError(
                f"target {target.name!r}: {type(target).__name__} is not a registered model"
            )
        notifier = entry.factory(target, session=session, context=context)
        policy = (
            SendNow() if entry.policy is None else entry.policy(target, notifier=notifier, context=context)
        )
        return Destination(notifier=notifier, policy=policy)


class UnknownTargetTypeError(KeyError):
    """A ``type:`` no integration is registered under (a KeyError, as a mapping lookup is)."""


def _builtin_registry() -> Registry:
    registry = Registry()
    registry.register("slack", model=SlackTarget, factory=build_slack_notifier, policy=build_slack_policy)
    registry.register("webhook", model=WebhookTarget, factory=WebhookNotifier)
    registry.register("pagerduty", model=PagerDutyTarget, factory=PagerDutyNotifier)
    registry.register("opsgenie", model=OpsgenieTarget, factory=OpsgenieNotifier)
    registry.register("jira", model=JiraTarget, factory=JiraNotifier)
    registry.register("servicenow", model=ServiceNowTarget, factory=ServiceNowNotifier)
    registry.register("dingtalk", model=DingTalkTarget, factory=DingTalkNotifier)
    registry.register("lark", model=LarkTarget, factory=LarkNotifier)
    registry.register("wecom", model=WeComTarget, factory=WeComNotifier)
    return registry


REGISTRY = _builtin_registry()


def build_destination(
    target: TargetConfig, *, session: requests.Session, context: NotifierContext
) -> Destination:
    """Build the notifier and delivery policy for one configured target from :data:`REGISTRY`."""
    return REGISTRY.build(target, session=session, context=context)
