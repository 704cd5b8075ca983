"""Our client pointed at the ``simulator`` fixture, and an empty cluster to list."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from integrations.ehpc.client import EhpcClient
from integrations.ehpc.simulator import SimulatorServer
from tests.fixtures.simulator import CLUSTER, SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET

__all__ = ["client", "cluster"]


@pytest.fixture
def cluster(simulator: SimulatorServer) -> str:
    """The id of an empty cluster on the simulator."""
    simulator.simulator.add_cluster(CLUSTER)
    return CLUSTER


@pytest.fixture
def client(simulator: SimulatorServer) -> EhpcClient:
    """An :class:`EhpcClient` signing with the simulator's AccessKey, over plain HTTP."""
    return EhpcClient(
        endpoint=simulator.endpoint,
        access_key_id=SIMULATOR_ACCESS_KEY_ID,
        access_key_secret=SecretStr(SIMULATOR_ACCESS_KEY_SECRET),
        connect_timeout_ms=2000,
        read_timeout_ms=5000,
    )
