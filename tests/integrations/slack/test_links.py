"""Other destinations link back to the task's Slack thread when its message is known."""

from __future__ import annotations

from functools import partial

import redis

from integrations.base import MessageRef
from integrations.slack.links import SlackThreadLinks
from worker.deliver.message_refs import RedisMessageRefs
from worker.store.keys import Keys


def refs(redis_client: redis.Redis, prefix: str) -> RedisMessageRefs:
    keys = Keys(prefix=prefix)
    return RedisMessageRefs(client=redis_client, key_for=partial(keys.slack_message, destination="slack"))


def test_a_posted_task_links_to_its_message(redis_client: redis.Redis, redis_prefix: str) -> None:
    store = refs(redis_client, redis_prefix)
    store.put("c1/t1", MessageRef(channel="C0EHPC123", ts="1795734662.487433", sequence=1))

    link = SlackThreadLinks(refs=store).permalink(task_key="c1/t1")

    assert link == "https://slack.com/archives/C0EHPC123/p1795734662487433"


def test_no_link_without_a_message_or_with_a_channel_name(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = refs(redis_client, redis_prefix)
    store.put("c1/named", MessageRef(channel="#ops", ts="1.2", sequence=1))
    links = SlackThreadLinks(refs=store)

    assert links.permalink(task_key="c1/unknown") is None
    assert links.permalink(task_key="c1/named") is None
