"""The Celery app's delivery defaults that keep a broker's redelivery harmless (issue 10, rows 9 and 12)."""

from __future__ import annotations

from worker.celery_app import MAX_COUNTDOWN, VISIBILITY_TIMEOUT, app
from worker.tasks import MAX_BACKOFF, backoff, countdown


def test_a_killed_worker_s_messages_come_back_within_about_a_minute() -> None:
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == VISIBILITY_TIMEOUT <= 60


def test_an_hour_long_retry_after_is_capped_below_the_visibility_timeout() -> None:
    assert countdown(3600.0) == MAX_COUNTDOWN < VISIBILITY_TIMEOUT
    assert countdown(2.5) == 2.5
    assert countdown(-1.0) == 0.0


def test_back_off_never_exceeds_the_cap() -> None:
    assert MAX_BACKOFF <= MAX_COUNTDOWN
    assert all(backoff(retries) <= MAX_COUNTDOWN for retries in range(0, 40, 3))


def test_beat_runs_the_delivery_reconciler() -> None:
    entries = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "ehpc.reconcile_deliveries" in entries
    assert "ehpc.reconcile_deliveries" in app.tasks
