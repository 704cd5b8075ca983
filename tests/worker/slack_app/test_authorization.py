"""Who may do what, from the configuration: channel × user × user group × command, over signed HTTP.

The policy is built the way production builds it (``EHPC_CONFIG`` → :class:`Runtime` → ``access_policy``),
user groups are resolved through the Slack stand-in's ``usergroups.users.list`` and cached in Redis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from slack_sdk import WebClient

from integrations.slack.commands import ACTION_MUTE_HOUR
from integrations.slack.standin import SlackStandIn
from tests.fixtures.environment import REDIS_URL
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET
from tests.fixtures.slack_app import (
    ADMIN,
    CHANNEL,
    CLUSTER,
    DEV_CHANNEL,
    MEMBER,
    OTHER_CHANNEL,
    OTHER_CLUSTER,
    Harness,
    HarnessFactory,
)
from worker.config.settings import Settings
from worker.runtime import Runtime
from worker.slack_app.access import AccessPolicy, access_policy
from worker.slack_app.groups import UserGroups

DEV_CLUSTER = "ehpc-hz-dev0003"
ONCALL, LAB = "U0ONCALL", "U0LAB"
ONCALL_GROUP, LAB_GROUP = "S0ONCALL", "S0LAB"

CONFIG = f"""
access:
  mute_users: [{ADMIN}]
clusters:
  - id: {CLUSTER}
    name: Hangzhou prod
    access: {{mute_users: [{ADMIN}], mute_groups: [{ONCALL_GROUP}], contact: "#hpc-leads"}}
  - id: {DEV_CLUSTER}
    labels: {{env: dev}}
  - id: {OTHER_CLUSTER}
    access: {{channels: [{OTHER_CHANNEL}], lookup_groups: [{LAB_GROUP}]}}
targets:
  - {{name: slack-dev, type: slack, channel: "#hpc-dev"}}
routes:
  - {{match: {{labels: {{env: dev}}}}, targets: [slack-dev]}}
"""


def _policy(
    tmp_path: Path, standin: SlackStandIn, redis_client: redis.Redis, prefix: str, *, token: str
) -> AccessPolicy:
    path = tmp_path / "bridge.yml"
    path.write_text(CONFIG)
    variables = {
        "REDIS_URL": REDIS_URL,
        "EHPC_REDIS_PREFIX": prefix,
        "EHPC_CONFIG": str(path),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": SIMULATOR_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SIMULATOR_ACCESS_KEY_SECRET,
        "SLACK_BOT_TOKEN": token,
        "SLACK_CHANNEL": CHANNEL,
        "SLACK_API_URL": standin.base_url,
    }
    rt = Runtime.from_settings(Settings(**variables))  # type: ignore[arg-type]
    groups = UserGroups(
        client=WebClient(token=token, base_url=standin.base_url), redis_client=rt.redis, keys=rt.keys
    )
    return access_policy(rt, members_of=groups.members)


@pytest.fixture
def configured(
    make_harness: HarnessFactory,
    tmp_path: Path,
    slack_standin: SlackStandIn,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> Harness:
    slack_standin.workspace.add_usergroup(ONCALL_GROUP, [ONCALL])
    slack_standin.workspace.add_usergroup(LAB_GROUP, [LAB, "U0SOMEONE"])
    harness = make_harness(
        _policy(tmp_path, slack_standin, redis_client, redis_prefix, token="xoxb-test-token")
    )
    harness.sim.add_cluster(DEV_CLUSTER)
    return harness


def _answer(harness: Harness, text: str, *, user: str, channel: str) -> dict[str, Any]:
    response = harness.command(text, user=user, channel=channel)
    assert response.status_code == 200
    payload: dict[str, Any] = response.json()
    assert payload["response_type"] == "ephemeral"  # answers and refusals alike are private
    return payload


def _shown(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks", []), ensure_ascii=False) + payload.get("text", "")


LOOKUP, MUTE = "tasks {cluster}", "mute {cluster} 1h"

# channel, user, command, cluster → allowed, or the refusal's reason and whom it says to ask
TABLE = [
    # routed to slack-dev (#hpc-dev) by the route on its label: answered there, refused in SLACK_CHANNEL
    (DEV_CHANNEL, MEMBER, LOOKUP, DEV_CLUSTER, None),
    (CHANNEL, MEMBER, LOOKUP, DEV_CLUSTER, ("does not belong to this channel", "Ask in #hpc-dev")),
    (DEV_CHANNEL, MEMBER, MUTE, DEV_CLUSTER, ("allowed to mute it", f"Ask <@{ADMIN}>")),
    (DEV_CHANNEL, ADMIN, MUTE, DEV_CLUSTER, None),
    # the default target (SLACK_CHANNEL); muting by a user or the on-call group; a contact to ask
    (CHANNEL, MEMBER, LOOKUP, CLUSTER, None),
    (DEV_CHANNEL, MEMBER, LOOKUP, CLUSTER, ("does not belong to this channel", "Ask #hpc-leads")),
    (CHANNEL, ADMIN, MUTE, CLUSTER, None),
    (CHANNEL, ONCALL, MUTE, CLUSTER, None),
    (CHANNEL, MEMBER, MUTE, CLUSTER, ("allowed to mute it", "Ask #hpc-leads")),
    (CHANNEL, LAB, MUTE, CLUSTER, ("allowed to mute it", "Ask #hpc-leads")),
    # explicit channels and a lookup group; muting falls back to the defaults (ADMIN)
    (OTHER_CHANNEL, LAB, LOOKUP, OTHER_CLUSTER, None),
    (OTHER_CHANNEL, MEMBER, LOOKUP, OTHER_CLUSTER, ("allowed to look it up", f"<!subteam^{LAB_GROUP}>")),
    (OTHER_CHANNEL, LAB, MUTE, OTHER_CLUSTER, ("allowed to mute it", f"Ask <@{ADMIN}>")),
    (OTHER_CHANNEL, ADMIN, MUTE, OTHER_CLUSTER, None),
    (CHANNEL, LAB, LOOKUP, OTHER_CLUSTER, ("does not belong to this channel", "Ask in <#C0RANDOM>")),
]


@pytest.mark.parametrize(("channel", "user", "command", "cluster", "refused"), TABLE)
def test_who_may_do_what(
    configured: Harness,
    channel: str,
    user: str,
    command: str,
    cluster: str,
    refused: tuple[str, str] | None,
) -> None:
    shown = _shown(_answer(configured, command.format(cluster=cluster), user=user, channel=channel))
    if refused is None:
        assert ":no_entry_sign:" not in shown
        assert ("running tasks" if command == LOOKUP else ":mute: Muted") in shown
    else:
        reason, ask = refused
        assert ":no_entry_sign:" in shown
        assert reason in shown
        assert ask in shown
        assert configured.mutes.current(cluster, now=configured.clock.now()) is None


def test_a_user_group_is_asked_once_then_read_from_redis(configured: Harness) -> None:
    for _ in range(3):
        shown = _shown(_answer(configured, f"tasks {OTHER_CLUSTER}", user=LAB, channel=OTHER_CHANNEL))
        assert "running tasks" in shown
    assert configured.standin.workspace.group_calls == 1
    key = configured.keys.usergroup_members(group_id=LAB_GROUP)
    assert 0 < configured.redis.pttl(key) <= 300_000


def test_a_user_group_slack_will_not_resolve_refuses_and_says_why(
    make_harness: HarnessFactory,
    tmp_path: Path,
    slack_standin: SlackStandIn,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    token = "xoxb-no-usergroups-token"  # the stand-in answers missing_scope, as Slack does without the scope
    harness = make_harness(_policy(tmp_path, slack_standin, redis_client, redis_prefix, token=token))
    shown = _shown(_answer(harness, f"tasks {OTHER_CLUSTER}", user=LAB, channel=OTHER_CHANNEL))
    assert "Slack would not tell me who is in the user groups allowed to look it up" in shown
    assert redis_client.exists(harness.keys.usergroup_members(group_id=LAB_GROUP)) == 0


def test_the_mute_button_follows_the_same_rules(configured: Harness) -> None:
    value = f"{DEV_CLUSTER}/B745C159-3155-4B94-95D0-4B73D4D21234"
    configured.action(ACTION_MUTE_HOUR, value, user=MEMBER, channel=DEV_CHANNEL)
    configured.action(ACTION_MUTE_HOUR, value, user=ADMIN, channel=CHANNEL)
    configured.settle()
    answers = [_shown(body) for body in configured.responses.wait_for(2)]
    assert all(":no_entry_sign:" in answer for answer in answers)
    assert "allowed to mute it" in answers[0] or "allowed to mute it" in answers[1]
    assert configured.mutes.current(DEV_CLUSTER, now=configured.clock.now()) is None
