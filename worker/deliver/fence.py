"""Delivery leases as fences: a delivery that lost its lease can't write, and a long send keeps its lease.

A (destination, task) delivery holds a lease with a TTL (``DeliveryLedger.acquire``). A send can take
longer than that TTL (several Slack calls, each up to ``EHPC_SLACK_TIMEOUT``; a Jira create and a search),
and a worker can stall. Two rules keep a second delivery of the same task from running
alongside, or a late one from undoing a newer one:

- **Renew before each call.** :func:`holding` makes the lease the current one for this thread of work; the
  notifiers call :func:`renew` before every vendor call, which extends the lease (TTL ≥ twice one call's
  timeout) or raises :class:`LeaseLost` when it already expired or another worker took it.
- **Fence every write.** Advancing the cursor and recording a Slack message ref are Lua scripts that check
  the lease's token in the same call (:data:`worker.store.scripts.ADVANCE_CURSOR`,
  :data:`~worker.store.scripts.PUT_MESSAGE_REF`), and a message ref never goes back to a lower sequence.

The current lease lives in a :class:`~contextvars.ContextVar`: Celery's thread pool runs one task per thread,
and a notifier shared by threads reads the lease of the delivery that called it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.store.lease import Lease

__all__ = ["LeaseLost", "current_token", "holding", "renew"]


class LeaseLost(Exception):
    """This delivery no longer holds its lease: stop; the worker that holds it carries on."""


@dataclass(frozen=True)
class _Held:
    lease: Lease
    ttl: timedelta


_current: ContextVar[_Held | None] = ContextVar("ehpc_delivery_lease", default=None)


@contextmanager
def holding(lease: Lease, *, ttl: timedelta) -> Iterator[None]:
    """Make ``lease`` the current delivery's lease (renewed for ``ttl`` by :func:`renew`) inside the block."""
    token = _current.set(_Held(lease=lease, ttl=ttl))
    try:
        yield
    finally:
        _current.reset(token)


def renew() -> None:
    """Extend the current delivery's lease before a vendor call; :class:`LeaseLost` if it is gone.

    Outside a delivery (a digest flush, the Slack app, ``check``) there is no lease and nothing to do.
    """
    held = _current.get()
    if held is not None and not held.lease.extend(held.ttl):
        raise LeaseLost(f"lost the delivery lease {held.lease.key}")


def current_token() -> tuple[str, str] | None:
    """(lease key, owner token) of the current delivery, for a fenced write; None outside a delivery."""
    held = _current.get()
    return None if held is None else (held.lease.key, held.lease.token)
