"""The one lease: fenced by its token, expiring, and run by EVALSHA like every other script."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis

from tests.fixtures.environment import REDIS_URL
from worker.store.lease import Lease


class RecordingRedis(redis.Redis):
    """A real client that notes the name of every command it sends."""

    commands: list[str]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(str(args[0]).upper())
        return super().execute_command(*args, **options)


@pytest.fixture
def recording() -> Iterator[RecordingRedis]:
    client = RecordingRedis.from_url(REDIS_URL)
    client.commands = []
    yield client
    client.close()


def test_extend_and_release_run_the_shared_scripts_by_evalsha(
    recording: RecordingRedis, redis_prefix: str
) -> None:
    lease = Lease.acquire(client=recording, key=f"{redis_prefix}:lease", ttl=timedelta(seconds=5))
    assert lease is not None
    assert lease.extend(timedelta(seconds=5))
    assert lease.release()

    assert "EVAL" not in recording.commands
    assert recording.commands.count("EVALSHA") == 2


def test_only_the_owner_releases_and_a_second_taker_waits(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:lease"
    lease = Lease.acquire(client=redis_client, key=key, ttl=timedelta(seconds=5))
    assert lease is not None
    assert Lease.acquire(client=redis_client, key=key, ttl=timedelta(seconds=5)) is None
    assert not Lease(client=redis_client, key=key, token="someone else").release()
    assert lease.release()
    assert not lease.extend(timedelta(seconds=5))  # gone: extending a released lease fails
