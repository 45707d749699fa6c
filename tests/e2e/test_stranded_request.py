"""A request stranded in the build queue while the builder is stopped (its push landed as the
builder was stopping, so build_start found it still running and close then stopped it) is built
when the reconcile's EventBridge schedule fires: nothing waits for the next push."""

import pytest

from chalicelib import fifo
from chalicelib.contracts import BuildRequest, utc_now
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def _strand(rig, sha: str) -> None:
    """The branch moved and its request is queued, but no function acted on it."""
    rig.git(rig.bare[SAMPLE.repository], "update-ref", f"refs/heads/{SAMPLE.branch}", sha)
    request = BuildRequest(SAMPLE.repository, SAMPLE.branch, sha, "codecommit-trigger", "stranded-1", utc_now())
    queue = rig.outputs["BUILD_QUEUE_URL"]  # FIFO: the pipeline's message group and the push's dedup id
    options = fifo.publish_options(queue, request)
    rig.client("sqs").send_message(QueueUrl=queue, MessageBody=request.to_json(), **options)


def test_a_stranded_request_is_built_when_the_reconcile_runs(rig):
    sha = rig.commit(SAMPLE.repository, "landed while the builder stopped", {"www/index.html": "<p>late</p>\n"})
    rig.push(SAMPLE.repository, branch="parking")  # objects reach the repository; no pipeline serves "parking"
    rig.wait(rig.lambda_idle, 60, "the push's invocations to finish")
    _strand(rig, sha)
    assert rig.builder_state() == "stopped" and rig.queue_depth() == 1

    rig.fire_schedule("reconcile")

    rig.wait(lambda: any(r.commit == sha for r in rig.build_results()), 300, "the stranded request's build")
    rig.wait_quiet()
    [result] = rig.build_results()
    assert result.outcome == "succeeded"
    assert rig.service_revision(SAMPLE) == 2
    assert rig.builder_state() == "stopped"
    assert len(rig.notifications()) == 1
