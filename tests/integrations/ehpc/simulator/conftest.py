"""The simulator's own tests: the ``simulator`` fixture and an empty cluster on it."""

from __future__ import annotations

import pytest

from integrations.ehpc.simulator import SimulatorServer
from tests.fixtures.simulator import CLUSTER, simulator

__all__ = ["cluster", "simulator"]


@pytest.fixture
def cluster(simulator: SimulatorServer) -> str:
    """The id of an empty cluster on the simulator."""
    simulator.simulator.add_cluster(CLUSTER)
    return CLUSTER
