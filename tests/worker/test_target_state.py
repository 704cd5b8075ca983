"""Notifiers' small durable facts live in Redis, one namespace per target."""

from __future__ import annotations

import redis

from worker.keys import Keys
from worker.target_state import RedisTargetState


def test_a_value_set_only_if_absent_is_kept_once_and_scoped_to_its_target(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(prefix=redis_prefix)
    jira = RedisTargetState(client=redis_client, keys=keys, target="jira")
    other = RedisTargetState(client=redis_client, keys=keys, target="jira-ops")

    first = jira.set_if_absent("issue:c1/t1", "OPS-1")
    second = jira.set_if_absent("issue:c1/t1", "OPS-2")

    assert (first, second) == (True, False)
    assert jira.get("issue:c1/t1") == "OPS-1"
    assert other.get("issue:c1/t1") is None


def test_a_value_with_a_ttl_expires(redis_client: redis.Redis, redis_prefix: str) -> None:
    state = RedisTargetState(client=redis_client, keys=Keys(prefix=redis_prefix), target="robot")

    state.set("posted:fp", "1", ttl_seconds=60)

    assert (
        0 < redis_client.ttl(Keys(prefix=redis_prefix).target_state(target="robot", name="posted:fp")) <= 60
    )
