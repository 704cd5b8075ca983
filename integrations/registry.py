"""The one map from a target ``type`` to its settings model and the factory that builds its notifier.

Adding an integration = one folder under ``integrations/``, one ``register`` line in
:func:`_builtin_registry`, one test table, one README row. The registry refuses a second registration of
a type name, so two integrations can never silently claim the same ``type:``.

``worker.config.models`` validates each ``targets:`` entry with :meth:`Registry.model_for`; the worker builds
the senders with :func:`build_notifier`, handing over the one HTTP session and a :class:`NotifierContext`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import requests

from integrations.base import Notifier
from integrations.dingtalk.notifier import DingTalkNotifier, DingTalkTarget
from integrations.jira.notifier import JiraNotifier, JiraTarget
from integrations.lark.notifier import LarkNotifier, LarkTarget
from integrations.opsgenie.notifier import OpsgenieNotifier, OpsgenieTarget
from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.servicenow.notifier import ServiceNowNotifier, ServiceNowTarget
from integrations.target import NotifierContext, SlackTarget, TargetConfig
from integrations.webhook.notifier import WebhookNotifier, WebhookTarget
from integrations.wecom.notifier import WeComNotifier, WeComTarget

__all__ = ["REGISTRY", "NotifierFactory", "Registry", "RegistryEntry", "build_notifier"]

TargetT = TypeVar("TargetT", bound=TargetConfig)
TargetT_contra = TypeVar("TargetT_contra", bound=TargetConfig, contravariant=True)


class NotifierFactory(Protocol[TargetT_contra]):
    """Builds the notifier of one target; a notifier class whose ``__init__`` matches qualifies."""

    def __call__(
        self, target: TargetT_contra, *, session: requests.Session, context: NotifierContext
    ) -> Notifier:
        """Return a notifier sending to ``target`` through ``session``."""


@dataclass(frozen=True)
class RegistryEntry(Generic[TargetT]):
    """One integration: its settings model and its factory (None until its notifier is wired)."""

    model: type[TargetT]
    factory: NotifierFactory[TargetT] | None


class Registry:
    """Type name → :class:`RegistryEntry`; registration happens once per name, here, explicitly."""

    def __init__(self) -> None:
        self._entries: dict[str, RegistryEntry[Any]] = {}

    def register(
        self, type_name: str, *, model: type[TargetT], factory: NotifierFactory[TargetT] | None
    ) -> None:
        """Add ``type_name``; a second registration of the same name is a programming error."""
        if type_name in self._entries:
            raise ValueError(f"target type {type_name!r} is already registered")
        default = model.model_fields["type"].default
        if default != type_name:
            raise ValueError(f"{model.__name__}.type defaults to {default!r}, not {type_name!r}")
        self._entries[type_name] = RegistryEntry(model=model, factory=factory)

    @property
    def types(self) -> tuple[str, ...]:
        """Registered type names, sorted, for error messages and ``check``."""
        return tuple(sorted(self._entries))

    def model_for(self, type_name: str) -> type[TargetConfig]:
        """The settings model of ``type_name``; KeyError names the known types."""
        try:
            return self._entries[type_name].model
        except KeyError:
            raise KeyError(f"unknown target type {type_name!r} (known: {', '.join(self.types)})") from None

    def build(self, target: TargetConfig, *, session: requests.Session, context: NotifierContext) -> Notifier:
        """Build the notifier of ``target`` with its registered factory."""
        entry = self._entries.get(target.type)
        if entry is None or not isinstance(target, entry.model):
            raise TypeError(f"target {target.name!r}: {type(target).__name__} is not a registered model")
        if entry.factory is None:
            raise LookupError(
                f"target {target.name!r}: no notifier factory for type {target.type!r} yet "
                "(wire it in integrations/registry.py)"
            )
        return entry.factory(target, session=session, context=context)


def _builtin_registry() -> Registry:
    registry = Registry()
    # Slack's notifier (integrations/slack/notifier.py) is wired by the composition root's owner.
    registry.register("slack", model=SlackTarget, factory=None)
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


def build_notifier(target: TargetConfig, *, session: requests.Session, context: NotifierContext) -> Notifier:
    """Build the notifier for one configured target from :data:`REGISTRY`."""
    return REGISTRY.build(target, session=session, context=context)
