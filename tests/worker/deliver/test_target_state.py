"""Notifiers' small durable facts live in Redis, one namespace per target."""

from __future__ import annotations

import redis

from worker.deliver.target_state import RedisTargetState
from worker.store.keys import Keys


def test_a_value_is_kept_for_its_target_only(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = Keys(prefix=redis_prefix)
    jira = RedisTargetState(client=redis_client, keys=keys, target="jira")
    other = RedisTargetState(client=redis_client, keys=keys, target="jira-ops")

    jira.set("issue:c1/t1", "OPS-1")

    assert jira.get("issue:c1/t1") == "OPS-1"
    assert other.get("issue:c1/t1") is None


def test_a_value_with_a_ttl_expires(redis_client: redis.Redis, redis_prefix: str) -> None:
    keys = Keys(prefix=redis_prefix)
    state = RedisTargetState(client=redis_client, keys=keys, target="robot")

    state.set("posted:fp", "1", ttl_seconds=60)

    assert 0 < redis_client.ttl(keys.target_state(target="robot", name="posted:fp")) <= 60
