"""Everything bounded, on a real Redis (issue 10, row 11): cursors and message refs outlive their task's
log however long the task runs; dead letters and a mute's kept list are capped, and say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import redis

from integrations.base import MessageRef, TransitionKind
from integrations.ehpc.task import TaskStatus
from tests.fixtures.slack import make_task, make_transition
from worker.deliver.dead_letters import DeadLetters
from worker.deliver.message_refs import RedisMessageRefs
from worker.deliver.mutes import Mutes
from worker.deliver.outbox import DeliveryLedger
from worker.detect.diff import ClusterRef, Source, TaskState
from worker.ops import metrics
from worker.store.keys import Keys

CLUSTER = "ehpc-hz-bound001"
NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
WEEK_MS = 7 * 24 * 3600 * 1000


def _observe(state: TaskState, status: TaskStatus, *, at: datetime) -> str:
    task = make_task(task_id="T-1", cluster_id=CLUSTER, status=status, raw_status=status.value)
    [transition] = state.observe_page(
        cluster=ClusterRef(cluster_id=CLUSTER, name="bounded"), tasks=[task], now=at, source=Source.RUNNING
    )
    return transition.task_key


def test_a_cursor_and_a_message_ref_outlive_their_task_s_log_however_long_it_runs(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = Keys(redis_prefix)
    state = TaskState(client=redis_client, keys=keys)
    ledger = DeliveryLedger(client=redis_client, keys=keys)
    refs = RedisMessageRefs(
        client=redis_client,
        key_for=partial(keys.slack_message, destination="slack"),
        log_key_for=keys.task_log,
    )
    task_key = _observe(state, TaskStatus.PROCESSING, at=NOW)
    ledger.advance_cursor(destination="slack", task_key=task_key, sequence=1)
    refs.put(task_key, MessageRef(channel="C1", ts="1.000001", sequence=1))
    cursor = keys.delivery_cursor(destination="slack", task_key=task_key)
    ref = keys.slack_message(destination="slack", task_key=task_key)

    assert redis_client.pttl(cursor) == -1, "no expiry while the task runs (a week, a month…)"
    assert redis_client.pttl(ref) == -1

    _observe(state, TaskStatus.SUCCESS, at=NOW + timedelta(days=10))  # the log gets its retention now
    ledger.advance_cursor(destination="slack", task_key=task_key, sequence=2)
    refs.put(task_key, MessageRef(channel="C1", ts="1.000001", sequence=2))
    log_life = redis_client.pttl(keys.task_log(task_key=task_key))

    assert 0 < log_life <= WEEK_MS
    assert redis_client.pttl(cursor) > log_life, "the cursor expires after its log"
    assert redis_client.pttl(ref) > log_life, "and so does the message ref"


def test_dead_letters_are_capped_oldest_first_and_counted(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    letters = DeadLetters(client=redis_client, keys=Keys(redis_prefix), cap=3)
    capped = metrics.CAPPED.labels(what="dead_letters")
    before = capped._value.get()
    ids = [
        letters.add(
            destination="jira",
            transition=make_transition(TransitionKind.FINISHED, sequence=n),
            error="HTTP 400",
            now=NOW,
        )
        for n in range(1, 6)
    ]

    assert letters.size() == 3
    assert [letter.entry_id for letter in letters.list()] == ids[:1:-1], "the newest three, newest first"
    assert capped._value.get() - before == 2
    assert letters.get(ids[0]) is None


def test_a_mute_keeps_each_transition_once_up_to_its_cap_and_counts_the_rest(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    mutes = Mutes(client=redis_client, keys=Keys(redis_prefix), cap=2)
    mutes.mute(cluster_id="ehpc-hz-1", until=NOW + timedelta(hours=1), reason="", user_id="U1", now=NOW)
    held = [make_transition(TransitionKind.FINISHED, sequence=n, task_id=f"t-{n}") for n in range(1, 5)]

    kept = [mutes.record_suppressed("ehpc-hz-1", t, now=NOW) for t in [held[0], held[0], *held[1:]]]
    summary = mutes.unmute(cluster_id="ehpc-hz-1", now=NOW + timedelta(minutes=5))

    assert kept == [True] * 5, "muted: none is sent, whether kept or only counted"
    assert summary is not None
    assert summary.transitions == tuple(held[:2]), "a redelivered transition is kept once"
    assert summary.untracked == 2
