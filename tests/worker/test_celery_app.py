"""The beat schedule: one expiring poll entry per cluster, the dispatcher and the mute check."""

from __future__ import annotations

from pathlib import Path

from worker.celery_app import DISPATCH_INTERVAL, MUTE_CHECK_INTERVAL, app, beat_schedule
from worker.config.settings import Settings
from worker.schedule import PhasedSchedule, phase_of


def test_each_cluster_is_polled_at_its_interval_and_a_late_poll_expires(tmp_path: Path) -> None:
    config = tmp_path / "ehpc.yaml"
    config.write_text("clusters:\n  - id: ehpc-a\n  - id: ehpc-b\n    poll_interval: 120\n")
    settings = Settings(EHPC_CONFIG=str(config), EHPC_POLL_INTERVAL=45)  # type: ignore[call-arg]

    assert beat_schedule(settings) == {
        "poll ehpc-a": {
            "task": "ehpc.poll_cluster",
            "schedule": PhasedSchedule(45.0, phase=phase_of("ehpc-a", interval=45.0)),
            "args": ("ehpc-a",),
            "options": {"queue": "poll", "expires": 45.0},
        },
        "poll ehpc-b": {
            "task": "ehpc.poll_cluster",
            "schedule": PhasedSchedule(120.0, phase=phase_of("ehpc-b", interval=120.0)),
            "args": ("ehpc-b",),
            "options": {"queue": "poll", "expires": 120.0},
        },
        "dispatch outbox": {
            "task": "ehpc.dispatch_outbox",
            "schedule": DISPATCH_INTERVAL,
            "options": {"queue": "deliver", "expires": DISPATCH_INTERVAL},
        },
        "expire mutes": {
            "task": "ehpc.expire_mutes",
            "schedule": MUTE_CHECK_INTERVAL,
            "options": {"queue": "deliver", "expires": MUTE_CHECK_INTERVAL},
        },
    }


def test_every_scheduled_task_is_a_registered_task() -> None:
    settings = Settings(EHPC_CLUSTERS="ehpc-a")  # type: ignore[call-arg]
    app.loader.import_default_modules()
    assert {entry["task"] for entry in beat_schedule(settings).values()} <= set(app.tasks)
