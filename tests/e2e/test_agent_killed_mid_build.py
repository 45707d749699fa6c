"""The agent dies mid-build on a running builder (a crash, an OOM kill). Nothing restarts it
(Restart=no), so its stop hook sends an EndOfRun that says the agent exited, and close stops the
builder although the request is still in flight: a running machine with no agent would serve
nothing, for good. The request comes back after its visibility timeout, the reconcile starts the
stopped builder for it, and the next boot's agent builds and deploys it."""

from collections.abc import Iterator

import pytest

from localrig.rig import LocalRig
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e

VISIBILITY_SECONDS = 3  # the agent's; a killed agent's request is back this long after its last heartbeat


@pytest.fixture
def rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    rig = LocalRig(tmp_path / "rig", [SAMPLE], engine=docker_engine,
                   visibility_timeout_seconds=VISIBILITY_SECONDS).start()
    try:
        yield rig
    finally:
        rig.stop()


def test_a_request_whose_agent_was_killed_mid_build_is_rebuilt_after_the_reconcile(rig):
    sha = rig.commit(SAMPLE.repository, "the build that loses its agent", {"www/index.html": "<p>again</p>\n"})
    rig.push(SAMPLE.repository)
    killed = rig.builder.kill_when(lambda line: "deployed ok" in line, 120)  # the next step is docker build

    rig.wait(lambda: rig.builder_state() == "stopped", 120, "close to stop the builder of the dead agent")
    [end] = rig.end_of_runs()
    assert end.agent_exited is True and end.reason.startswith("agent service ended: signal")
    assert rig.build_results() == []
    assert rig.queue_depth() == 1  # in flight: the dead agent still holds it
    assert [boot.number for boot in rig.builder.boots] == [killed.number] == [1]

    rig.wait(lambda: rig.queue_waiting() == 1, 60, "the request to come back after its visibility timeout")
    rig.fire_schedule("reconcile")

    rig.wait(lambda: any(r.commit == sha for r in rig.build_results()), 300, "the rebuild of the request")
    rig.wait_quiet()
    [result] = rig.build_results()
    assert result.outcome == "succeeded"
    assert rig.service_revision(SAMPLE) == 2
    assert len(rig.builder.boots) == 2 and rig.builder.boots[0].exit_code == -9
    assert "(delivery 2)" in rig.builder.boots[1].log_path.read_text()
    exited = [e.agent_exited for e in rig.end_of_runs()]  # an idle agent repeats EndOfRun until it is stopped
    assert exited[:2] == [True, False] and not any(exited[2:])
    stopped, deployed = rig.notifications()  # the team hears that the agent died, then that the push deployed
    assert stopped["text"].startswith(":rotating_light: Builder agent stopped: agent service ended: signal")
    assert deployed["text"].startswith(":white_check_mark: Deployed: sample/production")
