"""The Celery application: broker, queues, delivery defaults and the beat schedule.

This is the one module allowed to do work at import time (Celery needs ``app`` as a module attribute).

* Two queues: ``poll`` (ListTasks calls) and ``deliver`` (Slack and vendors), so a slow Slack never delays
  polling; ``ehpc-bridge worker --queues`` narrows a worker to one of them.
* ``acks_late`` + ``reject_on_worker_lost`` + prefetch 1: a task killed mid-way is redelivered, which is safe
  because every task is idempotent (state diffs are atomic, deliveries advance a per-destination cursor).
* ``visibility_timeout`` of :data:`VISIBILITY_TIMEOUT` (60 s, not Celery's hour): with a Redis broker, an
  unacknowledged message of a SIGKILLed worker comes back only after it (the thread pool can't reject it on
  the way down), so a short one brings a killed worker's work back within about a minute. The price: a
  task still running — or still waiting for its countdown — when it expires is handed to a second worker
  as well. That is safe only because every task is idempotent and leased (a second poll of a cluster is
  skipped, a second delivery of a task waits for the first one's lease and then finds nothing after the
  cursor), and cheap only because tasks are short: Slack and vendor calls time out in seconds, a delivery
  renews its lease before each send, and every countdown is capped at :data:`MAX_COUNTDOWN`, below the
  timeout (a vendor's ``Retry-After`` of an hour is retried sooner and simply answered 429 again).
  :mod:`worker.deliver.reconcile` covers what the broker loses anyway (its Redis restarted, a retry that
  could not be published): deliveries overdue with their log ahead of the cursor are scheduled again.
* Publishing retries for about half a minute (``task_publish_retry_policy``), so a task that finishes while
  the broker restarts still gets its retry or follow-up out.
* Beat: one ``ehpc.poll_cluster`` entry per cluster that *expires* after one interval, so polls do not pile
  up behind a stalled worker, each at its own phase within the interval (:mod:`worker.schedule`: a thousand
  clusters are not polled in one burst); a per-cluster Redis lock skips a poll that would overlap the
  previous one, and a second beat started by mistake only causes skipped or idempotent polls, never
  duplicate messages.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from worker.broker import BrokerAMQP
from worker.config.clusters import load_bridge_config
from worker.config.settings import Settings
from worker.schedule import PhasedSchedule, phase_of
from worker.store.keys import Keys

__all__ = ["DELIVER_QUEUE", "MAX_COUNTDOWN", "POLL_QUEUE", "VISIBILITY_TIMEOUT", "app", "beat_schedule"]

POLL_QUEUE = "poll"
DELIVER_QUEUE = "deliver"
DISPATCH_INTERVAL = 5.0
MUTE_CHECK_INTERVAL = 30.0
RECONCILE_INTERVAL = 10.0
VISIBILITY_TIMEOUT = 60
MAX_COUNTDOWN = 30.0  # below VISIBILITY_TIMEOUT, with room for the task's own run time


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """One poll entry per watched cluster, plus the outbox dispatcher and the mute expiry check."""
    schedule: dict[str, dict[str, Any]] = {}
    for cluster in load_bridge_config(settings).clusters:
        interval = cluster.poll_interval or settings.poll_interval
        schedule[f"poll {cluster.id}"] = {
            "task": "ehpc.poll_cluster",
            "schedule": PhasedSchedule(interval, phase=phase_of(cluster.id, interval=interval)),
            "args": (cluster.id,),
            "options": {"queue": POLL_QUEUE, "expires": interval},
        }
    schedule["dispatch outbox"] = {
        "task": "ehpc.dispatch_outbox",
        "schedule": DISPATCH_INTERVAL,
        "options": {"queue": DELIVER_QUEUE, "expires": DISPATCH_INTERVAL},
    }
    schedule["reconcile deliveries"] = {
        "task": "ehpc.reconcile_deliveries",
        "schedule": RECONCILE_INTERVAL,
        "options": {"queue": DELIVER_QUEUE, "expires": RECONCILE_INTERVAL},
    }
    schedule["expire mutes"] = {
        "task": "ehpc.expire_mutes",
        "schedule": MUTE_CHECK_INTERVAL,
        "options": {"queue": DELIVER_QUEUE, "expires": MUTE_CHECK_INTERVAL},
    }
    return schedule


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """The broker's transport options: for this app and any other client of the same broker (tests).

    Several deployments can share one Redis: the broker's keys live under our prefix too. With a
    ``sentinel://`` ``REDIS_URL`` the transport also needs the master's name.
    """
    return {
        "global_keyprefix": Keys(prefix=settings.redis_prefix).celery_prefix(),
        "visibility_timeout": VISIBILITY_TIMEOUT,
        **settings.redis.celery_transport_options(),
    }


def _make_app(settings: Settings) -> Celery:
    # BrokerAMQP: a broker restart is a reconnect, not the worker's exit (see worker.broker).
    celery = Celery("ehpc_bridge", broker=settings.redis_url, include=["worker.tasks"], amqp=BrokerAMQP)
    celery.conf.update(
        task_default_queue=DELIVER_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=broker_transport_options(settings),
        task_publish_retry_policy={
            "max_retries": 12,
            "interval_start": 0.5,
            "interval_step": 0.5,
            "interval_max": 3.0,
        },
        beat_schedule=beat_schedule(settings),
        # In-memory schedule: no file to share or corrupt between beats; after a restart the first polls
        # simply run at once, which is harmless (polls are idempotent).
        beat_scheduler="celery.beat:Scheduler",
        timezone="UTC",
    )
    return celery


app = _make_app(Settings())
