"""Edit coalescing: at most one progress edit of a task's message per ``EHPC_SLACK_EDIT_INTERVAL``.

One Redis key per (target, task) set with ``NX PX``: the first edit of an interval takes it, later ones are
told how long is left. Shared by every worker, so a fast task costs a few edits whoever delivers it.
"""

from __future__ import annotations

import redis

from worker.store.keys import Keys

__all__ = ["EditCoalescing"]


class EditCoalescing:
    """:class:`~integrations.base.EditGate` of one target on Redis; ``interval`` 0 lets every edit through."""

    def __init__(self, *, client: redis.Redis, keys: Keys, destination: str, interval: float) -> None:
        self._client = client
        self._keys = keys
        self._destination = destination
        self._interval_ms = int(interval * 1000)

    def wait(self, *, task_key: str) -> float:
        """0.0 and the interval starts now, or the seconds left of the current one."""
        if self._interval_ms <= 0:
            return 0.0
        key = self._keys.slack_edit(destination=self._destination, task_key=task_key)
        if self._client.set(key, "1", nx=True, px=self._interval_ms):
            return 0.0
        return max(int(self._client.pttl(key)), 1) / 1000

    def remaining(self, *, task_key: str) -> float:
        """Seconds left of the task's current interval (0.0: none), starting nothing."""
        if self._interval_ms <= 0:
            return 0.0
        left = int(self._client.pttl(self._keys.slack_edit(destination=self._destination, task_key=task_key)))
        return max(left, 0) / 1000
