"""Slack's per-channel message budget, shared by all workers through Redis.

:class:`ChannelBudget` is a token bucket per channel (about one message per second with a small burst,
Slack's own guidance for ``chat.postMessage``), refilled by Redis ``TIME`` inside one Lua call, so all
workers share one clock and one count. ``acquire`` never sleeps: it returns 0 (send now; a token was taken)
or the seconds until a token will be free (nothing was taken; the delivery task retries with that
countdown and asks again).
"""

from __future__ import annotations

import redis

from worker.store.keys import Keys
from worker.store.scripts import ACQUIRE_BUDGET, reply_text

__all__ = ["ChannelBudget"]


class ChannelBudget:
    """A token bucket per Slack channel in Redis: ``rate`` messages per second, bursts of ``burst``."""

    def __init__(self, *, client: redis.Redis, keys: Keys, rate: float = 1.0, burst: int = 3) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._client = client
        self._keys = keys
        self._rate = rate
        self._burst = burst
        self._acquire = client.register_script(ACQUIRE_BUDGET)

    def acquire(self, channel: str) -> float:
        """Take one message's worth for ``channel``: 0.0 if granted, else seconds to wait (none taken)."""
        reply = self._acquire(keys=[self._keys.slack_budget(channel=channel)], args=[self._rate, self._burst])
        return float(reply_text(reply))
