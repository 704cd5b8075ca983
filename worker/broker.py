"""The broker connection Celery uses, made to survive the broker's restart.

Celery 5.7.0 (with kombu 5.7.0, any pool) exits with ``Unrecoverable error: AttributeError("'NoneType'
object has no attribute 'hostname'")`` right after ``Connection to broker lost`` whenever the worker holds an
unacknowledged message, which with ``acks_late`` is nearly always. What happens, in
``Consumer.on_connection_error_after_connected``:

1. ``connection.collect()`` closes the default channel, but the Redis channel's ``close()`` first reads
   the pending ``BRPOP`` reply, which raises ``ConnectionError``; kombu swallows it, so the channel is left
   *open*, and then detaches the transport (``transport.client = None``);
2. Celery 5.7.0 then calls ``connection.close()`` on the same connection (5.6 did not), which closes that
   still-open channel again: this time it gets as far as restoring its unacknowledged messages, which
   builds a new Redis pool from ``transport.client.hostname`` — ``None`` now. ``AttributeError`` is not a
   connection error, so it escapes the reconnect loop and stops the worker.

:class:`BrokerConnection` forgets the default channel once ``collect()`` has dealt with it (there is
nothing left to close: the transport is gone), so the second ``close()`` is a no-op and Celery's own
reconnect loop carries on. The half-closed channel keeps its Redis pool, so a task that was running when
the connection dropped still acks once Redis is back; one that can't is redelivered after the visibility
timeout (see :mod:`worker.celery_app`). Remove this once Celery stops closing a collected connection.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP
from kombu.connection import Connection

__all__ = ["BrokerAMQP", "BrokerConnection"]


class BrokerConnection(Connection):
    """A kombu connection whose ``close()`` after ``collect()`` touches nothing (see the module doc)."""

    def collect(self, socket_timeout: float | None = None) -> None:
        """Release everything without talking to the broker, and forget the default channel too."""
        super().collect(socket_timeout)  # type: ignore[no-untyped-call]
        self._default_channel = None


class BrokerAMQP(AMQP):  # type: ignore[misc]  # celery is untyped
    """Celery's AMQP helper with :class:`BrokerConnection` as the connection class."""

    Connection: Any = BrokerConnection
