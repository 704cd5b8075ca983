"""The target registry and secrets named by environment variable."""

from __future__ import annotations

from typing import Literal

import pydantic
import pytest
import redis
import requests
from pydantic import SecretStr

from integrations.base import DeliveryStores, SendNow, Transition
from integrations.http import new_session
from integrations.pagerduty.notifier import PagerDutyNotifier, PagerDutyTarget
from integrations.registry import REGISTRY, Registry, UnknownTargetTypeError, build_destination
from integrations.slack.notifier import SlackNotifier
from integrations.slack.policy import SlackDeliveryPolicy
from integrations.target import NotifierContext, SlackAccess, SlackTarget, TargetConfig, TargetSetupError
from worker.deliver.backlog import ChannelBacklog
from worker.deliver.budget import ChannelBudget
from worker.deliver.edits import EditCoalescing
from worker.deliver.message_refs import RedisMessageRefs
from worker.deliver.mutes import Mutes
from worker.store.keys import Keys


class DemoTarget(TargetConfig):
    type: Literal["demo"] = "demo"


class DemoNotifier:
    def __init__(self, target: DemoTarget, *, session: requests.Session, context: NotifierContext) -> None:
        self.target = target

    def send(self, transition: Transition) -> None:
        """Nothing to send to."""


def test_duplicate_registration_is_refused() -> None:
    registry = Registry()
    registry.register("demo", model=DemoTarget, factory=DemoNotifier)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("demo", model=DemoTarget, factory=DemoNotifier)


def test_model_type_must_match_the_registered_name() -> None:
    with pytest.raises(ValueError, match="defaults to 'demo'"):
        Registry().register("other", model=DemoTarget, factory=DemoNotifier)


def test_builtin_types() -> None:
    assert REGISTRY.types == (
        "dingtalk",
        "jira",
        "lark",
        "opsgenie",
        "pagerduty",
        "servicenow",
        "slack",
        "webhook",
        "wecom",
    )
    with pytest.raises(UnknownTargetTypeError, match="unknown target type 'teams'"):
        REGISTRY.model_for("teams")


def test_a_vendor_is_built_by_its_factory_and_sends_at_once() -> None:
    target = PagerDutyTarget.model_validate(
        {"name": "pd", "routing_key_env": "K"}, context={"environ": {"K": "secret"}}
    )
    destination = build_destination(target, session=new_session(), context=NotifierContext())
    assert isinstance(destination.notifier, PagerDutyNotifier)
    assert isinstance(destination.policy, SendNow)


def _stores(client: redis.Redis, prefix: str) -> DeliveryStores:
    keys = Keys(prefix=prefix)
    return DeliveryStores(
        edits=EditCoalescing(client=client, keys=keys, destination="slack", interval=5),
        budget=ChannelBudget(client=client, keys=keys),
        backlog=ChannelBacklog(client=client, keys=keys).of_target("slack"),
        mutes=Mutes(client=client, keys=keys),
        refs=RedisMessageRefs(client=client, key_for=lambda *, task_key: f"{prefix}:refs:{task_key}"),
    )


def test_slack_is_built_through_the_registry_like_every_vendor(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    context = NotifierContext(
        scope="C0HPCOPS",
        stores_for=lambda name: _stores(redis_client, redis_prefix),
        slack=SlackAccess(token=SecretStr("xoxb-test"), base_url="http://127.0.0.1:9/api/"),
    )
    destination = build_destination(SlackTarget(name="slack"), session=new_session(), context=context)
    assert isinstance(destination.notifier, SlackNotifier)
    assert isinstance(destination.policy, SlackDeliveryPolicy)


def test_slack_without_a_bot_token_says_so() -> None:
    context = NotifierContext(scope="C0HPCOPS", slack=SlackAccess(token=None, base_url="http://x/"))
    with pytest.raises(TargetSetupError, match="SLACK_BOT_TOKEN is not set"):
        build_destination(SlackTarget(name="slack"), session=new_session(), context=context)


def test_a_slack_target_without_any_channel_says_which_cluster() -> None:
    with pytest.raises(TargetSetupError, match="no Slack channel for cluster c1: set SLACK_CHANNEL"):
        SlackTarget(name="slack").scope(cluster_id="c1", cluster_channel=None, default_channel=None)
    assert (
        SlackTarget(name="s", channel="C1").scope(cluster_id="c1", cluster_channel="C2", default_channel="C3")
        == "C1"
    )
    assert SlackTarget(name="s").scope(cluster_id="c1", cluster_channel="C2", default_channel="C3") == "C2"
    assert SlackTarget(name="s").scope(cluster_id="c1", cluster_channel=None, default_channel="C3") == "C3"


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
