"""The Celery application: broker, queues, delivery defaults and the beat schedule.

This is the one module allowed to do work at import time (Celery needs ``app`` as a module attribute).

* Two queues: ``poll`` (ListTasks calls) and ``deliver`` (Slack and vendors), so a slow Slack never delays
  polling; ``ehpc-bridge worker --queues`` narrows a worker to one of them.
* ``acks_late`` + ``reject_on_worker_lost`` + prefetch 1: a task killed mid-way is redelivered, which is safe
  because every task is idempotent (state diffs are atomic, deliveries advance a per-destination cursor).
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

__all__ = ["DELIVER_QUEUE", "POLL_QUEUE", "app", "beat_schedule"]

POLL_QUEUE = "poll"
DELIVER_QUEUE = "deliver"
DISPATCH_INTERVAL = 5.0
MUTE_CHECK_INTERVAL = 30.0


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
    schedule["expire mutes"] = {
        "task": "ehpc.expire_mutes",
        "schedule": MUTE_CHECK_INTERVAL,
        "options": {"queue": DELIVER_QUEUE, "expires": MUTE_CHECK_INTERVAL},
    }
    return schedule


def _make_app(settings: Settings) -> Celery:
    # BrokerAMQP: a broker restart is a reconnect, not the worker's exit (see worker.broker).
    celery = Celery("ehpc_bridge", broker=settings.redis_url, include=["worker.tasks"], amqp=BrokerAMQP)
    keys = Keys(prefix=settings.redis_prefix)
    celery.conf.update(
        task_default_queue=DELIVER_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # Several deployments can share one Redis: the broker's keys live under our prefix too.
        broker_transport_options={"global_keyprefix": keys.celery_prefix(), "visibility_timeout": 3600},
        beat_schedule=beat_schedule(settings),
        # In-memory schedule: no file to share or corrupt between beats; after a restart the first polls
        # simply run at once, which is harmless (polls are idempotent).
        beat_scheduler="celery.beat:Scheduler",
        timezone="UTC",
    )
    return celery


app = _make_app(Settings())
