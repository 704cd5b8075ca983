"""Every Redis key ehpc-bridge uses, built here from one prefix so deployments can share a Redis.

Other modules never format a key themselves: they ask :class:`Keys`. Add a method here (keep them grouped
by the module that owns the data) rather than building a string elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    """Key names under ``prefix`` (``EHPC_REDIS_PREFIX``, default ``ehpc``)."""

    prefix: str = "ehpc"

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # worker/state.py: change detection. ``task_key`` is ``<cluster_id>/<task_id>``.
    def task_state(self, *, task_key: str) -> str:
        """Hash: what was last seen of one task (status, step, times, sequence, flags)."""
        return self._key("task", task_key)

    def task_log(self, *, task_key: str) -> str:
        """List: one task's transitions as JSON, in sequence order (index = sequence - 1)."""
        return self._key("log", task_key)

    def running_tasks(self, *, cluster_id: str) -> str:
        """Set: IDs of the cluster's tasks last seen running (looked up by TaskId when they vanish)."""
        return self._key("running", cluster_id)

    def finished_tasks(self, *, cluster_id: str) -> str:
        """Sorted set: IDs of the cluster's tasks known final, scored by when (the "already told" memory)."""
        return self._key("finished", cluster_id)

    def baseline(self, *, cluster_id: str) -> str:
        """String: present once the cluster's first poll was recorded."""
        return self._key("baseline", cluster_id)

    def poll_lease(self, *, cluster_id: str) -> str:
        """String: owner token of the poll running for the cluster."""
        return self._key("lease", "poll", cluster_id)

    # worker.detect.oplog: E-HPC 2.0 clusters (operation logs) and which generation a cluster is.
    def generation(self, *, cluster_id: str) -> str:
        """String: ``1.0`` or ``2.0``, what the 2024 API said of a cluster configured ``api: auto``."""
        return self._key("generation", cluster_id)

    def oplog_watermark(self, *, cluster_id: str) -> str:
        """String: Unix seconds up to which the cluster's operation logs were read (the last window's To)."""
        return self._key("oplog", "watermark", cluster_id)

    def oplog_operations(self, *, cluster_id: str) -> str:
        """Hash: RequestId → the operation as last built (JSON: signature, task, first/last seen), bounded."""
        return self._key("oplog", "ops", cluster_id)

    # worker/outbox.py: the transactional outbox and per-destination delivery.
    def outbox(self) -> str:
        """Stream: one entry per observed page that logged transitions (field ``task_keys``, a JSON list)."""
        return self._key("outbox")

    def delivery_cursor(self, *, destination: str, task_key: str) -> str:
        """String: the last sequence of the task delivered to the destination."""
        return self._key("cursor", destination, task_key)

    def delivery_lease(self, *, destination: str, task_key: str) -> str:
        """String: owner token of the worker delivering the task to the destination."""
        return self._key("lease", "delivery", destination, task_key)

    # worker/mutes.py and worker/lookup.py: what the Slack app sets and reads.
    def mute(self, *, cluster_id: str) -> str:
        """Hash: the cluster's mute (``until``, ``started``, ``reason``, ``user``; times in epoch seconds)."""
        return self._key("mute", cluster_id)

    def muted_transitions(self, *, cluster_id: str) -> str:
        """Hash: transitions (JSON) kept back while the cluster is muted, by fingerprint, for the summary."""
        return self._key("muted-kept", cluster_id)

    def mute_summary(self, *, summary_id: str) -> str:
        """Hash: a claimed mute summary (the mute's fields, ``cluster``, ``ended``, ``overflow``)."""
        return self._key("mute-summary", summary_id)

    def mute_summary_items(self, *, summary_id: str) -> str:
        """Hash: the transitions (JSON, by fingerprint) a claimed mute summary announces."""
        return self._key("mute-summary-items", summary_id)

    def mute_summaries(self) -> str:
        """Set: ids of mute summaries claimed and not yet posted."""
        return self._key("mute-summaries")

    def mute_summary_lease(self, *, summary_id: str) -> str:
        """String: owner token of the worker posting the summary."""
        return self._key("lease", "mute-summary", summary_id)

    def mute_ends(self) -> str:
        """Sorted set: muted cluster IDs scored by when their mute ends (epoch seconds)."""
        return self._key("mute-ends")

    def cluster_health(self, *, cluster_id: str) -> str:
        """Hash: the cluster's last poll (``polled_at`` epoch seconds) and last API error (``error``)."""
        return self._key("health", cluster_id)

    # worker/deliver/ (message_refs, edits, budget, digests): Slack delivery.
    def slack_message(self, *, destination: str, task_key: str) -> str:
        """Hash: the task's parent message (channel, ts, sequence), attempts and thread replies."""
        return self._key("slack", "msg", destination, task_key)

    def slack_budget(self, *, channel: str) -> str:
        """Hash: the channel's token bucket (``tokens``, ``at`` in Redis TIME seconds)."""
        return self._key("slack", "budget", channel)

    def slack_backlog(self, *, destination: str, channel: str) -> str:
        """Sorted set: task keys whose next message waits for the channel's budget, by when first parked."""
        return self._key("slack", "backlog", destination, channel)

    def slack_backlogs(self) -> str:
        """Set: every (destination, channel, cluster) backlog parked in, for beat to find lost drains."""
        return self._key("slack", "backlogs")

    def slack_drain_scheduled(self, *, destination: str, channel: str) -> str:
        """String with a TTL: present while a drain of the backlog is scheduled."""
        return self._key("slack", "drain-scheduled", destination, channel)

    def slack_drain_lease(self, *, destination: str, channel: str) -> str:
        """String: owner token of the worker draining the backlog."""
        return self._key("slack", "drain-lease", destination, channel)

    def slack_digest_claim(self, *, destination: str, channel: str) -> str:
        """Hash: the open digest of the backlog (``id``, ``items`` JSON, ``posted`` ts, ``edited:<task>``)."""
        return self._key("slack", "digest-claim", destination, channel)

    # worker.detect.cursor / worker.detect.poll: where the cluster's listings stand between polls.
    def scan_cursor(self, *, cluster_id: str) -> str:
        """String: the cluster's scan cursor as JSON (watermark, where a stopped read resumes)."""
        return self._key("scan", cluster_id)

    def scan_seen(self, *, cluster_id: str) -> str:
        """Set: IDs the running listing in progress has shown so far (cleared when it completes)."""
        return self._key("scan-seen", cluster_id)

    def cluster_gone(self, *, cluster_id: str) -> str:
        """String: the DeleteCluster task ID after which the cluster answered ClusterNotFound."""
        return self._key("gone", cluster_id)

    # worker.deliver.* / worker.deliver.problems / worker.celery_app
    def slack_edit(self, *, destination: str, task_key: str) -> str:
        """String with a TTL: present while the task's Slack message was edited too recently."""
        return self._key("slack", "edit", destination, task_key)

    def dead_letters(self) -> str:
        """Stream (capped): transitions given up on, with destination and reason (see ``dead-letters``)."""
        return self._key("dead-letters", "stream")

    # worker/store/epoch.py and worker/detect/recovery.py: noticing a rolled-back or emptied Redis.
    def epoch(self) -> str:
        """Hash: the state's generation (``id``), the Redis ``run_id`` last seen, ``restarted_at``."""
        return self._key("epoch")

    def rollback_recheck(self, *, cluster_id: str, restarted_at: str) -> str:
        """String with a TTL: the cluster's tasks were put back in the outbox after that restart."""
        return self._key("recheck", cluster_id, restarted_at)

    def recovery_lease(self) -> str:
        """String: owner token of the worker rebuilding a lost state from the Slack channels."""
        return self._key("lease", "recovery")

    def celery_prefix(self) -> str:
        """Prefix of the Celery broker's own keys (queues, unacked messages)."""
        return self._key("celery") + ":"

    def scratch(self, *, token: str) -> Keys:
        """Keys for a throwaway state (``poll-once``), apart from the real one."""
        return Keys(prefix=self._key("scratch", token))

    # worker.deliver.target_state
    def target_state(self, *, target: str, name: str) -> str:
        """String: one small fact a notifier keeps for its target (e.g. a Jira issue key per task)."""
        return self._key("target", target, name)

    def incident(self, *, target: str, incident_key: str) -> str:
        """Hash: a target's incident ledger for one key (``f:<task_key>`` = failure end, latest success)."""
        return self._key("incident", target, incident_key)

    # worker.slack_app.groups
    def usergroup_members(self, *, group_id: str) -> str:
        """String with a TTL: a Slack user group's member IDs (JSON list), from ``usergroups.users.list``."""
        return self._key("slack", "usergroup", group_id)

    # worker.hints: EventBridge events as a poll-now hint.
    def hint_seen(self, *, event_digest: str) -> str:
        """String with a TTL: an EventBridge event (digest of its source and id) was already taken."""
        return self._key("hint", "seen", event_digest)

    def hint_slot(self, *, cluster_id: str) -> str:
        """String with a TTL: when (epoch ms) the cluster's next event-hinted poll may run."""
        return self._key("hint", "slot", cluster_id)

    def hint_deferred(self, *, cluster_id: str) -> str:
        """String with a TTL: a hinted poll of the cluster is queued for the start of its next slot."""
        return self._key("hint", "deferred", cluster_id)

    # worker.slack_app.failures
    def dead_letter_retry(self, *, letter_id: str) -> str:
        """String with a TTL: a Retry of this dead letter is under way (one at a time, however many press)."""
        return self._key("dead-letter-retry", letter_id)

    # worker.deliver.problems
    def api_problem_told(self, *, cluster_id: str) -> str:
        """Hash: per target, the code of the permanent ListTasks error it was told about for the cluster."""
        return self._key("api-problem-told", cluster_id)
