"""Which clusters are watched and where their news goes, from ``EHPC_CONFIG`` or the plain environment.

Two ways to configure, one result: the simple case (``EHPC_CLUSTERS`` + ``SLACK_CHANNEL``) becomes the same
objects as a YAML file with one Slack target and a default route, so the rest of the code never asks which
way was used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from integrations.target import SlackTarget, TargetConfig
from worker.settings import Settings

__all__ = ["DEFAULT_SLACK_TARGET", "WatchedCluster", "load_clusters", "load_targets"]

DEFAULT_SLACK_TARGET = "slack"


class WatchedCluster(BaseModel):
    """One cluster ehpc-bridge polls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_id: str = Field(min_length=1)
    name: str
    region: str | None = None
    poll_interval: float | None = None
    slack_channel: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


def load_clusters(settings: Settings) -> list[WatchedCluster]:
    """The watched clusters: ``EHPC_CONFIG``'s ``clusters:`` when a file is given, else ``EHPC_CLUSTERS``."""
    if settings.config_path is not None:
        from worker.config import load_config

        config = load_config(settings.config_path)
        return [
            WatchedCluster(
                cluster_id=cluster.id,
                name=cluster.name or cluster.id,
                region=cluster.region,
                poll_interval=cluster.poll_interval,
                slack_channel=cluster.slack_channel,
                labels=dict(cluster.labels),
            )
            for cluster in config.clusters
        ]
    return [WatchedCluster(cluster_id=cluster_id, name=cluster_id) for cluster_id in settings.clusters]


def load_targets(settings: Settings) -> dict[str, TargetConfig]:
    """Named destinations: the file's ``targets:``, or one Slack target when configured by environment."""
    if settings.config_path is not None:
        from worker.config import load_config

        return {target.name: target for target in load_config(settings.config_path).targets}
    return {DEFAULT_SLACK_TARGET: SlackTarget(name=DEFAULT_SLACK_TARGET)}
