"""Jira, ServiceNow and robot targets: unknown fields, secrets by variable, nothing secret in a repr."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from integrations.dingtalk.notifier import DingTalkTarget
from integrations.jira.notifier import JiraTarget
from integrations.servicenow.notifier import ServiceNowTarget
from integrations.target import TargetConfig

ENVIRON = {"SECRET_VAR": "s3cret-value-never-shown"}
VALID: list[tuple[type[TargetConfig], dict[str, Any]]] = [
    (
        JiraTarget,
        {
            "url": "https://acme.atlassian.net",
            "email": "a@b.c",
            "api_token_env": "SECRET_VAR",
            "project_key": "OPS",
        },
    ),
    (
        ServiceNowTarget,
        {"instance_url": "https://acme.service-now.com", "username": "bridge", "password_env": "SECRET_VAR"},
    ),
    (DingTalkTarget, {"webhook_url_env": "SECRET_VAR", "secret_env": "SECRET_VAR"}),
]


@pytest.mark.parametrize(("model", "settings"), VALID, ids=lambda value: getattr(value, "__name__", ""))
def test_valid_settings_hold_the_secret_out_of_sight(
    model: type[TargetConfig], settings: dict[str, Any]
) -> None:
    target = model.model_validate({"name": "t", **settings}, context={"environ": ENVIRON})
    assert ENVIRON["SECRET_VAR"] in target.secret_values()
    assert ENVIRON["SECRET_VAR"] not in repr(target) + str(target.model_dump())


@pytest.mark.parametrize(("model", "settings"), VALID, ids=lambda value: getattr(value, "__name__", ""))
def test_unknown_fields_are_refused(model: type[TargetConfig], settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({"name": "t", "tokn": "x", **settings}, context={"environ": ENVIRON})


@pytest.mark.parametrize(("model", "settings"), VALID, ids=lambda value: getattr(value, "__name__", ""))
def test_a_missing_variable_is_named(model: type[TargetConfig], settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="environment variable SECRET_VAR is not set"):
        model.model_validate({"name": "t", **settings}, context={"environ": {}})
