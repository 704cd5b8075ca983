"""What the Slack app knows about each watched cluster beyond its access: poll pace and Slack targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from worker.routing import cluster_targets

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["STALE_POLLS", "ClusterDirectory", "cluster_directory"]

STALE_POLLS = 3  # a cluster without a good poll for this many intervals is shown as stale


@dataclass(frozen=True)
class ClusterDirectory:
    """Per cluster: seconds between polls, and the Slack targets its task messages go to (for links)."""

    poll_intervals: Mapping[str, float] = field(default_factory=dict)
    slack_targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_interval: float = 30.0

    def stale_after(self, cluster_id: str) -> timedelta:
        """How old the last good poll may be before the cluster is shown as stale."""
        return timedelta(seconds=STALE_POLLS * self.poll_intervals.get(cluster_id, self.default_interval))

    def targets(self, cluster_id: str) -> tuple[str, ...]:
        """The Slack targets whose message refs ``/ehpc history`` links to, in routing order."""
        return self.slack_targets.get(cluster_id, ())


def cluster_directory(rt: Runtime) -> ClusterDirectory:
    """The directory of the runtime's watched clusters."""
    return ClusterDirectory(
        poll_intervals={cluster_id: rt.poll_interval(cluster_id) for cluster_id in rt.clusters},
        slack_targets={
            cluster.id: tuple(
                name for name in cluster_targets(cluster, rt.config) if rt.targets[name].type == "slack"
            )
            for cluster in rt.clusters.values()
        },
        default_interval=rt.settings.poll_interval,
    )
