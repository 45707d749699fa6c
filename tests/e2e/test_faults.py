"""The fault-injection suite (localrig/faults.py), one test per scenario and pool size, each on its own fresh
rig: whatever is injected, with one builder or a pool of three, every accepted push ends deployed or reported
failed, every builder ends stopped, exactly the right Slack messages arrive, and no request is unaccounted for
(build queue empty, dead-letter and Lambda failure queues holding exactly what they should)."""

from collections.abc import Iterator

import pytest

from localrig import faults
from localrig.rig import LocalRig

pytestmark = pytest.mark.e2e


@pytest.fixture(params=[1, 3], ids=["1-builder", "3-builders"])
def fault_rig(request, tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    rig = faults.fault_rig(tmp_path / "rig", engine=docker_engine, builders=request.param).start()
    try:
        yield rig
    finally:
        rig.stop()


@pytest.mark.parametrize("scenario", list(faults.SCENARIOS))
def test_scenario_ends_accounted_for(fault_rig, scenario):
    report = faults.run_scenario(scenario, fault_rig)

    failed = [f"{c.expectation} (observed: {c.observed})" for c in report.checks if not c.ok]
    assert not failed, "\n".join(failed)
