"""The fault-injection suite (localrig/faults.py), one test per scenario, each on its own fresh rig:
whatever is injected, every accepted push ends deployed or reported failed, the builder ends
stopped, exactly the right Slack messages arrive, and no request is unaccounted for (build queue
empty, dead-letter and Lambda failure queues holding exactly what they should)."""

from collections.abc import Iterator

import pytest

from localrig import faults
from localrig.rig import LocalRig

pytestmark = pytest.mark.e2e


@pytest.fixture
def fault_rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    rig = faults.fault_rig(tmp_path / "rig", engine=docker_engine).start()
    try:
        yield rig
    finally:
        rig.stop()


@pytest.mark.parametrize("scenario", list(faults.SCENARIOS))
def test_scenario_ends_accounted_for(fault_rig, scenario):
    report = faults.run_scenario(scenario, fault_rig)

    failed = [f"{c.expectation} (observed: {c.observed})" for c in report.checks if not c.ok]
    assert not failed, "\n".join(failed)
