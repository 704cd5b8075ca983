"""Which clusters are watched and where their news goes, from ``EHPC_CONFIG`` or the plain environment.

Two ways to configure, one result: the simple case (``EHPC_CLUSTERS`` + ``SLACK_CHANNEL``) becomes the same
:class:`~worker.config.models.BridgeConfig` as a YAML file with one Slack target and a default route, so the
rest of the code never asks which way was used.
"""

from __future__ import annotations

from worker.config.models import BridgeConfig, load_config
from worker.config.settings import Settings

__all__ = ["load_bridge_config"]


def load_bridge_config(settings: Settings) -> BridgeConfig:
    """``EHPC_CONFIG``'s file when one is named, else the env-only equivalent of ``EHPC_CLUSTERS``."""
    if settings.config_path is not None:
        return load_config(settings.config_path)
    return BridgeConfig.from_env_defaults(cluster_ids=settings.clusters)
