"""One E-HPC 1.0 and one 2.0 cluster through the real worker and beat to the Slack stand-in.

The simulator runs in real time (its Unix clock is the wall clock the worker's 2.0 windows end at);
``EHPC_API=auto`` makes the worker ask the 2024 API which generation each cluster is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.ehpc.simulator import Simulator, SimulatorServer
from integrations.slack.standin import SlackStandIn
from tests.fixtures.pipeline import CHANNEL, Stack, make_stack
from tests.fixtures.processes import Processes, slack_settled, wait_for
from tests.fixtures.simulator import SIMULATOR_ACCESS_KEY_ID, SIMULATOR_ACCESS_KEY_SECRET

pytestmark = pytest.mark.slow

OLD = "ehpc-hz-old00001"
NEXT = "ehpc-hz-next0001"


@pytest.fixture
def realtime_simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(
        simulator=Simulator(realtime=True),
        access_key_id=SIMULATOR_ACCESS_KEY_ID,
        access_key_secret=SIMULATOR_ACCESS_KEY_SECRET,
    )
    with server:
        yield server


@pytest.fixture
def stack(realtime_simulator: SimulatorServer, slack_standin: SlackStandIn, redis_prefix: str) -> Stack:
    """The `processes` fixture drives this stack: both clusters, EHPC_API=auto, polls every second."""
    realtime_simulator.simulator.add_cluster(NEXT, generation="2.0")
    return make_stack(
        simulator=realtime_simulator,
        slack=slack_standin,
        prefix=redis_prefix,
        clusters=(OLD,),
        EHPC_CLUSTERS=f"{OLD},{NEXT}",
        EHPC_API="auto",
        EHPC_POLL_INTERVAL=1,
    )


def test_a_1_0_and_a_2_0_cluster_each_get_one_message_and_one_final_reply(
    stack: Stack, processes: Processes
) -> None:
    sim = stack.simulator.simulator
    processes.start("worker", "--concurrency", "4")
    processes.start("beat")
    for cluster in (OLD, NEXT):  # the baselines: nothing is running yet
        wait_for(lambda c=cluster: processes.last_poll(c) is not None, why="beat's polls", logs=processes)

    sim.start_task(OLD, "AddComputes", total_steps=3, step_seconds=2, nodes=2)
    sim.start_operation(NEXT, "CreateNodes", stages=("Prepare", "CreateInstances", "Start"), stage_seconds=2)
    wait_for(lambda: slack_settled(stack, parents=2), why="two finished task messages", logs=processes)

    messages = {("2.0" if "stages done" in m.text else "1.0"): m for m in stack.slack.messages(CHANNEL)}
    assert set(messages) == {"1.0", "2.0"}
    assert "Adding compute nodes" in messages["1.0"].text
    assert "3/3" in messages["1.0"].text
    assert f"Adding compute nodes on {NEXT}" in messages["2.0"].text
    assert "Succeeded" in messages["2.0"].text
    assert "3 stages done (latest: Start)" in messages["2.0"].text
    for message in messages.values():
        [reply] = stack.slack.replies(CHANNEL, message.ts)
        assert "Succeeded" in reply.text
    actions = {record.action for record in sim.requests}
    assert {"ListTasks", "ListCommonLogs", "GetCommonLogDetail", "ListClusters"} <= actions
    listings = [r for r in sim.requests if r.action == "ListClusters"]
    assert len(listings) == 2  # auto asked once per cluster, then remembered
