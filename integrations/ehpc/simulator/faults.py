"""Misbehaviours the simulator can put on an answer: once (a queue), on every Nth request, or at a rate
(a seeded RNG).

Faults apply to authenticated requests for a known action, after the signature check; each one replaces
or spoils the normal answer:

=================  =======================================================================================
``Fault.error``     an error from :data:`~integrations.ehpc.simulator.errors.ERRORS`; ``retry_after_ms``
                    adds ``x-acs-retry-after`` (the SDK then raises ``ThrottlingException``)
``Fault.slow``      waits ``seconds`` of wall time, then answers normally (to trip read timeouts)
``Fault.drop``      closes the connection without a byte of answer
``Fault.html_502``  a gateway's HTML 502 page
``Fault.malformed_json``  a normal answer whose ``Result`` / ``Errors`` strings are not valid JSON
``Fault.unknown_status``  a normal answer whose tasks carry an undocumented ``Status``
``Fault.bad_shape`` valid JSON the SDK can't map onto its model (it then returns ``body=None``)
=================  =======================================================================================
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from integrations.ehpc.simulator.errors import ERRORS

__all__ = ["Fault", "FaultKind", "FaultPlan"]


class FaultKind(StrEnum):
    """Kinds of misbehaviour."""

    ERROR = "error"
    SLOW = "slow"
    DROP = "drop"
    HTML_502 = "html_502"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_STATUS = "unknown_status"
    BAD_SHAPE = "bad_shape"


@dataclass(frozen=True)
class Fault:
    """One misbehaviour; build it with the class methods rather than by hand."""

    kind: FaultKind
    code: str | None = None
    retry_after_ms: int | None = None
    seconds: float = 0.0
    status: str = "Suspended"

    def __post_init__(self) -> None:
        if self.kind is FaultKind.ERROR and self.code not in ERRORS:
            raise ValueError(f"unknown error code {self.code!r}")

    @classmethod
    def error(cls, code: str, *, retry_after_ms: int | None = None) -> Fault:
        """Answer with error ``code``; ``retry_after_ms`` sets the ``x-acs-retry-after`` header."""
        return cls(FaultKind.ERROR, code=code, retry_after_ms=retry_after_ms)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally after ``seconds`` of wall time."""
        return cls(FaultKind.SLOW, seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls(FaultKind.DROP)

    @classmethod
    def html_502(cls) -> Fault:
        """Answer with a gateway's HTML 502 page."""
        return cls(FaultKind.HTML_502)

    @classmethod
    def malformed_json(cls) -> Fault:
        """Answer normally but with broken ``Result`` / ``Errors`` JSON strings."""
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def unknown_status(cls, status: str = "Suspended") -> Fault:
        """Answer normally but with ``status`` as every task's ``Status``."""
        return cls(FaultKind.UNKNOWN_STATUS, status=status)

    @classmethod
    def bad_shape(cls) -> Fault:
        """Answer 200 with JSON the SDK cannot parse into its model."""
        return cls(FaultKind.BAD_SHAPE)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the admin endpoint shows and accepts it."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` / ``TypeError`` on bad input."""
        fields = dict(data)
        return cls(kind=FaultKind(fields.pop("kind")), **fields)


class FaultPlan:
    """Decides which fault, if any, spoils the next answer: the queue, then every-Nth faults, then rates."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._rates: dict[Fault, float] = {}
        self._every: dict[Fault, int] = {}
        self._answered = 0
        self._rng = random.Random(seed)  # noqa: S311 - determinism, not secrecy

    def inject(self, fault: Fault, *, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests."""
        with self._lock:
            self._queue.extend([fault] * times)

    def set_rate(self, fault: Fault, rate: float) -> None:
        """Spoil a fraction ``rate`` (0–1) of the requests with ``fault``; 0 removes it."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        with self._lock:
            if rate:
                self._rates[fault] = rate
            else:
                self._rates.pop(fault, None)

    def set_every(self, fault: Fault, every: int) -> None:
        """Spoil every ``every``-th request (counted from now) with ``fault``; 0 removes it."""
        if every < 0:
            raise ValueError("every must be >= 0")
        with self._lock:
            self._answered = 0
            if every:
                self._every[fault] = every
            else:
                self._every.pop(fault, None)

    def clear(self) -> None:
        """Forget every queued fault, every-Nth fault and rate."""
        with self._lock:
            self._queue.clear()
            self._rates.clear()
            self._every.clear()

    def next(self) -> Fault | None:
        """The fault for the request being answered now, or None."""
        with self._lock:
            self._answered += 1
            if self._queue:
                return self._queue.popleft()
            for fault, every in self._every.items():
                if self._answered % every == 0:
                    return fault
            for fault, rate in self._rates.items():
                if self._rng.random() < rate:
                    return fault
            return None

    def describe(self) -> dict[str, Any]:
        """Queued faults and rates, for the admin state."""
        with self._lock:
            return {
                "queued": [f.to_dict() for f in self._queue],
                "rates": [{"fault": f.to_dict(), "rate": r} for f, r in self._rates.items()],
                "every": [{"fault": f.to_dict(), "every": n} for f, n in self._every.items()],
            }
