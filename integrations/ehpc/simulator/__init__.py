"""A stand-in E-HPC (ListTasks, 2018-04-12) that the official SDK cannot tell from the cloud.

Used by the tests and the demo::

    from integrations.ehpc.simulator import Fault, Simulator, SimulatorServer

    with SimulatorServer(simulator=Simulator(), access_key_id="id", access_key_secret="secret") as server:
        sim = server.simulator
        sim.add_cluster("ehpc-hz-test0001")
        task_id = sim.start_task("ehpc-hz-test0001", "AddComputes", outcome="PartialFail")
        sim.advance(30)
        sim.inject(Fault.error("Throttling.User", retry_after_ms=2000))
        # … point the SDK at server.host_port (or EHPC_ENDPOINT at server.endpoint)

Modules: ``signature`` (both signing styles), ``auth`` (who may call), ``errors`` (the error table),
``model`` (clusters, tasks, virtual clock), ``actions`` (ListTasks rules), ``faults``, ``scenario``
(files and the built-in demo), ``service`` (the facade tests drive), ``admin`` and ``server`` (HTTP),
``cli`` (``ehpc-bridge simulator``).
"""

from integrations.ehpc.simulator.cli import run_simulator_cli
from integrations.ehpc.simulator.faults import Fault, FaultKind
from integrations.ehpc.simulator.scenario import Scenario, default_scenario, load_scenario
from integrations.ehpc.simulator.server import SimulatorServer
from integrations.ehpc.simulator.service import RequestRecord, Simulator

__all__ = [
    "Fault",
    "FaultKind",
    "RequestRecord",
    "Scenario",
    "Simulator",
    "SimulatorServer",
    "default_scenario",
    "load_scenario",
    "run_simulator_cli",
]
