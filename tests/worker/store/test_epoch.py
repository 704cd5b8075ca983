"""The epoch on the real Redis: a new state, the same server, another server process, an emptied state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from worker.store.epoch import ROLLBACK_WINDOW, Epoch, EpochState
from worker.store.keys import Keys

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def epoch(redis_client: redis.Redis, redis_prefix: str) -> Epoch:
    return Epoch(client=redis_client, keys=Keys(prefix=redis_prefix))


def test_no_epoch_is_lost_until_one_is_created_then_steady(epoch: Epoch) -> None:
    assert epoch.check(now=NOW) is EpochState.LOST

    epoch.create(now=NOW, rebuilt=False)

    assert epoch.check(now=NOW) is EpochState.STEADY
    assert epoch.suspect_since(now=NOW) is None


def test_another_redis_process_is_a_restart_that_opens_the_suspect_window_once(
    epoch: Epoch, redis_client: redis.Redis, redis_prefix: str
) -> None:
    epoch.create(now=NOW, rebuilt=False)
    redis_client.hset(Keys(prefix=redis_prefix).epoch(), "run_id", "the-process-before-the-crash")

    assert epoch.check(now=NOW) is EpochState.RESTARTED
    assert epoch.check(now=NOW) is EpochState.STEADY  # noticed once, by whoever looked first
    assert epoch.suspect_since(now=NOW + ROLLBACK_WINDOW) == NOW - timedelta(hours=1)
    assert epoch.suspect_since(now=NOW + ROLLBACK_WINDOW + timedelta(seconds=1)) is None


def test_a_rebuilt_state_opens_the_suspect_window_a_new_one_does_not(epoch: Epoch) -> None:
    epoch.create(now=NOW, rebuilt=True)

    assert epoch.suspect_since(now=NOW) is not None
