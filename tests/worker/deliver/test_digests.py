"""The channel backlog and digest claims, on a real Redis."""

from __future__ import annotations

import redis

from integrations.base import DigestItem, TransitionKind
from tests.fixtures.slack import make_transition
from worker.deliver.backlog import Backlog, ChannelBacklog
from worker.deliver.digests import DigestClaims
from worker.store.keys import Keys

BACKLOG = Backlog(destination="slack", channel="C1", cluster_id="ehpc-hz-1")


def test_the_backlog_is_oldest_first_and_parking_again_keeps_a_task_s_place(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    backlog = ChannelBacklog(client=redis_client, keys=Keys(redis_prefix))
    for task_key, at in (("c/2", 20), ("c/1", 10), ("c/3", 30), ("c/1", 40)):
        backlog.park(BACKLOG, task_key=task_key, at_ms=at)

    assert backlog.size(BACKLOG) == 3
    assert backlog.oldest(BACKLOG, count=2) == ["c/1", "c/2"]


def test_a_task_leaves_the_backlog_only_if_it_logged_nothing_newer(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(redis_prefix)
    backlog = ChannelBacklog(client=redis_client, keys=keys)
    for task_key in ("c/1", "c/2"):
        backlog.park(BACKLOG, task_key=task_key, at_ms=1)
        redis_client.rpush(keys.task_log(task_key=task_key), "{}", "{}")

    backlog.leave(BACKLOG, delivered=[("c/1", 2), ("c/2", 1)])  # c/2 logged a second transition since

    assert backlog.oldest(BACKLOG, count=5) == ["c/2"]


def test_one_drain_is_scheduled_however_many_park_and_a_lost_one_is_found(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    backlog = ChannelBacklog(client=redis_client, keys=Keys(redis_prefix))
    backlog.park(BACKLOG, task_key="c/1", at_ms=1)

    assert backlog.mark_scheduled(BACKLOG, countdown=1)
    assert not backlog.mark_scheduled(BACKLOG, countdown=1)
    assert list(backlog.orphans()) == []
    backlog.mark_running(BACKLOG)  # the drain started, then its worker died
    assert list(backlog.orphans()) == [BACKLOG]


def test_a_claim_keeps_its_id_and_items_until_forgotten(redis_client: redis.Redis, redis_prefix: str) -> None:
    claims = DigestClaims(client=redis_client, keys=Keys(redis_prefix))
    finished = make_transition(TransitionKind.FINISHED, sequence=2)
    first = claims.claim(BACKLOG, [DigestItem(task_key=finished.task_key, sequence=2, transition=finished)])

    again = claims.claim(BACKLOG, [])  # a later drain, with a grown backlog, gets the same claim back
    claims.mark_posted(BACKLOG, ts="1.000001")
    claims.mark_edited(BACKLOG, task_key=finished.task_key)

    assert again.digest_id == first.digest_id
    assert again.shown == (finished,)
    current = claims.current(BACKLOG)
    assert current is not None
    assert (current.posted_ts, current.edited) == ("1.000001", frozenset({finished.task_key}))
    claims.forget(BACKLOG)
    assert claims.current(BACKLOG) is None
