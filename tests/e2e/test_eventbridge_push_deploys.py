"""A team reports CodeCommit pushes through an EventBridge rule ("CodeCommit Repository State Change") instead of a
repository trigger: the push reaches the request_events function, which asks for the build, and the commit is
deployed like any other. On the rig the push lands without the repository's trigger (that repository has none,
only the rule), and the rule's event is delivered to the Lambda host as EventBridge invokes a target:
asynchronously, with the event as it is documented."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def state_change_event(region: str, account: str, repository: str, branch: str, old: str, new: str) -> dict:
    """The EventBridge event of a branch update, or its creation when ``old`` is "" (the shape of
    tests/fixtures/events/12_...)."""
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "CodeCommit Repository State Change",
        "source": "aws.codecommit", "account": account, "region": region,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resources": [f"arn:aws:codecommit:{region}:{account}:{repository}"],
        "detail": {"callerUserArn": f"arn:aws:iam::{account}:user/demo-developer", "commitId": new,
                   "event": "referenceUpdated", "oldCommitId": old, "referenceFullName": f"refs/heads/{branch}",
                   "referenceName": branch, "referenceType": "branch",
                   "repositoryId": str(uuid.uuid5(uuid.NAMESPACE_URL, repository)), "repositoryName": repository},
    }
    if not old:
        event["detail"]["event"] = "referenceCreated"
        del event["detail"]["oldCommitId"]
    return event


def test_a_push_reported_by_eventbridge_is_built_and_deployed(rig):
    work = rig.work[SAMPLE.repository]
    listed = rig.git(work, "ls-remote", "origin", f"refs/heads/{SAMPLE.branch}")
    old = listed.split()[0] if listed else ""  # the first push creates the branch
    sha = rig.commit(SAMPLE.repository, "sample: reported by EventBridge",
                     {"www/index.html": "<h1>sample</h1>\n<p>version: eventbridge</p>\n"})
    # the push lands with the receiving side's hooks off: no repository trigger fires
    rig.git(work, "push", "--quiet", "--receive-pack=git -c core.hooksPath=/dev/null receive-pack", "origin",
            f"HEAD:refs/heads/{SAMPLE.branch}")
    account = rig.client("sts").get_caller_identity()["Account"]
    event = state_change_event(rig.outputs["REGION"], account, SAMPLE.repository, SAMPLE.branch, old, sha)
    since = time.time()
    request = urllib.request.Request(f"{rig.lambda_url}/invoke/request_events", data=json.dumps(event).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202

    rig.wait(lambda: any(r.commit == sha for r in rig.build_results(since)), 300, f"the build of {sha[:12]}")
    rig.wait_quiet(300)
    [build] = [r for r in rig.build_results(since) if r.commit == sha]
    assert build.outcome == "succeeded", build.error
    assert rig.service_image(SAMPLE).endswith(build.image.tag)
    assert rig.builder_state() == "stopped"
    journal = [json.loads(line) for line in rig.journal.read_text().splitlines()]
    results = {r["function"] for r in journal if r["kind"] == "result" and r["time"] >= since}
    assert "request_events" in results and "request" not in results  # the rule's event, not a trigger, asked
