"""Which clusters are watched and where their news goes, from ``EHPC_CONFIG`` or the plain environment.

Two ways to configure, one result: the simple case (``EHPC_CLUSTERS`` + ``SLACK_CHANNEL``) becomes the same
:class:`~worker.config.BridgeConfig` as a YAML file with one Slack target and a default route, so the rest
of the code never asks which way was used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from worker.config import BridgeConfig, load_config
from worker.settings import Settings

__all__ = ["WatchedCluster", "load_bridge_config", "load_clusters"]


class WatchedCluster(BaseModel):
    """One cluster ehpc-bridge polls, with the environment's defaults already applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_id: str = Field(min_length=1)
    name: str
    region: str | None = None
    poll_interval: float | None = None
    slack_channel: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    announce_running_on_baseline: bool | None = None


def load_bridge_config(settings: Settings) -> BridgeConfig:
    """``EHPC_CONFIG``'s file when one is named, else the env-only equivalent of ``EHPC_CLUSTERS``."""
    if settings.config_path is not None:
        return load_config(settings.config_path)
    return BridgeConfig.from_env_defaults(cluster_ids=settings.clusters)


def load_clusters(settings: Settings, config: BridgeConfig | None = None) -> list[WatchedCluster]:
    """The watched clusters of ``config`` (loaded from ``settings`` when not given)."""
    config = config or load_bridge_config(settings)
    return [
        WatchedCluster(
            cluster_id=cluster.id,
            name=cluster.display_name,
            region=cluster.region,
            poll_interval=cluster.poll_interval,
            slack_channel=cluster.slack_channel,
            labels=dict(cluster.labels),
            announce_running_on_baseline=cluster.announce_running_on_baseline,
        )
        for cluster in config.clusters
    ]
