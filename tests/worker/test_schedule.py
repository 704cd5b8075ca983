"""Beat's phased poll schedule: each cluster at its own stable phase, every interval, from the first slot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.schedule import PhasedSchedule, phase_of

T = 1_800_000_000.0  # a multiple of 30 (Unix seconds)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_due_once_per_slot_at_its_phase() -> None:
    clock = [T + 5.0]
    entry = PhasedSchedule(30, phase=7, clock=lambda: clock[0])

    before_slot = entry.is_due(at(T))  # beat started at T; the slot T+7 has not come yet
    clock[0] = T + 7.5
    in_slot = entry.is_due(at(T))
    ran_again = entry.is_due(at(T + 7.5))  # just ran

    assert (before_slot.is_due, before_slot.next) == (False, pytest.approx(2.0))
    assert in_slot.is_due
    assert (ran_again.is_due, ran_again.next) == (False, pytest.approx(29.5))


def test_phases_are_stable_spread_and_within_the_interval() -> None:
    phases = [phase_of(f"ehpc-hz-{n:08d}", interval=30) for n in range(1000)]

    assert phases == [phase_of(f"ehpc-hz-{n:08d}", interval=30) for n in range(1000)]
    assert all(0 <= phase < 30 for phase in phases)
    assert sum(1 for phase in phases if phase < 15) == pytest.approx(500, abs=60)  # about even
