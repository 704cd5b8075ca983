"""Beat's poll schedule: every cluster at its own fixed phase within the interval, not all at once.

With plain ``every N seconds`` entries beat sends every cluster's poll in the same instant (all entries start
when beat does), so a thousand clusters make one burst of a thousand polls per interval: the last one waits
behind the others, which adds the whole drain time to its cluster's latency. :class:`PhasedSchedule` runs
each entry at ``phase`` seconds past every multiple of the interval (Unix time), the phase drawn from a hash
of the cluster ID: the polls spread evenly over the interval, and a beat restart keeps every cluster's
rhythm.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import schedstate, schedule

__all__ = ["PhasedSchedule", "phase_of"]


def phase_of(key: str, *, interval: float) -> float:
    """A stable phase in [0, interval) for ``key`` (the same on every beat, every restart)."""
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return fraction * interval


class PhasedSchedule(schedule):  # type: ignore[misc]  # celery is untyped
    """Due every ``interval`` seconds at ``phase`` seconds past each multiple of it."""

    def __init__(self, interval: float, *, phase: float, clock: Callable[[], float] = time.time) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        super().__init__(run_every=timedelta(seconds=interval))
        self.interval = interval
        self.phase = phase % interval
        self._clock = clock

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due when the entry has not run since the latest slot; otherwise, seconds until the next one."""
        now = self._clock()
        slot = now - (now - self.phase) % self.interval
        if last_run_at.timestamp() < slot:
            return schedstate(is_due=True, next=self.interval)
        return schedstate(is_due=False, next=max(slot + self.interval - now, 0.01))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PhasedSchedule):
            return (self.interval, self.phase) == (other.interval, other.phase)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.interval, self.phase))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.interval, self.phase))

    def __repr__(self) -> str:
        return f"<PhasedSchedule every {self.interval:g}s at +{self.phase:.3f}s>"


def _rebuild(interval: float, phase: float) -> PhasedSchedule:
    return PhasedSchedule(interval, phase=phase)
