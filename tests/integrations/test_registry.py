"""The target registry and secrets named by environment variable."""

from __future__ import annotations

from typing import Literal

import pydantic
import pytest

from integrations.http import new_session
from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.registry import REGISTRY, Registry, build_notifier
from integrations.target import NotifierContext, SlackTarget, TargetConfig


class DemoTarget(TargetConfig):
    type: Literal["demo"] = "demo"


def test_duplicate_registration_is_refused() -> None:
    registry = Registry()
    registry.register("demo", model=DemoTarget, factory=None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("demo", model=DemoTarget, factory=None)


def test_model_type_must_match_the_registered_name() -> None:
    with pytest.raises(ValueError, match="defaults to 'demo'"):
        Registry().register("other", model=DemoTarget, factory=None)


def test_builtin_types() -> None:
    assert {"slack", "webhook", "pagerduty", "opsgenie"} <= set(REGISTRY.types)
    with pytest.raises(KeyError, match="unknown target type 'teams'"):
        REGISTRY.model_for("teams")


def test_build_notifier_uses_the_registered_factory() -> None:
    target = PagerDutyTarget.model_validate(
        {"name": "pd", "routing_key_env": "K"}, context={"environ": {"K": "secret"}}
    )
    notifier = build_notifier(target, session=new_session(), context=NotifierContext())
    assert isinstance(notifier, PagerDutyNotifier)


def test_slack_is_built_by_the_composition_root() -> None:
    with pytest.raises(LookupError, match="no notifier factory for type 'slack'"):
        build_notifier(SlackTarget(name="slack"), session=new_session(), context=NotifierContext())


def test_secret_is_read_from_the_named_variable_and_hidden() -> None:
    target = PagerDutyTarget.model_validate(
        {"name": "pd", "routing_key_env": "K"}, context={"environ": {"K": "s3cr3t"}}
    )
    assert target.routing_key_env.get() == "s3cr3t"
    assert target.secret_values() == ("s3cr3t",)
    assert "s3cr3t" not in repr(target)
    assert str(target.routing_key_env) == "$K"


def test_missing_variable_is_a_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="environment variable K is not set"):
        PagerDutyTarget.model_validate({"name": "pd", "routing_key_env": "K"}, context={"environ": {}})
