"""What runs where, on the rig: after a push deployed the sample service, GET /status (served by a real
`chalice local --stage local`) shows the revision, image commit and rollout state ECS reports, matching what
pushdeploy recorded; a hand `update_service` to another revision is then flagged as drift."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from localrig import stories
from localrig.rig import LocalRig
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def recorded(url: str, deadline: float) -> dict[str, Any]:
    """The newest build in history, once the history function (the Lambda host, off the build's path) wrote it."""
    while time.monotonic() < deadline:
        builds = get(f"{url}builds?limit=1")["builds"]
        if builds:
            return builds[0]
        time.sleep(0.2)  # polling for the asynchronous write, with a deadline
    raise AssertionError("no build recorded in history")


def sample_service(url: str) -> dict[str, Any]:
    [pipeline] = get(f"{url}status")["pipelines"]
    [service] = pipeline["services"]
    return service


def hand_deploy(rig: LocalRig) -> str:
    """What someone does in the console: register a copy of the running revision and put the service on it."""
    ecs = rig.client("ecs")
    running = rig.service_task_definition(SAMPLE)
    described = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    copy = ecs.register_task_definition(family=described["family"],
                                        containerDefinitions=described["containerDefinitions"])
    arn = copy["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=SAMPLE.cluster, service=SAMPLE.service, taskDefinition=arn)
    return arn


def test_status_matches_the_recorded_deploy_then_flags_a_hand_deploy(rig):
    report = stories.one_push(rig, SAMPLE)
    assert report.passed, report.checks
    url = rig.start_chalice_local().rstrip("/") + "/"
    build = recorded(url, time.monotonic() + 60)

    before = sample_service(url)
    by_hand = hand_deploy(rig)
    after = sample_service(url)

    deployed = build["services"][0]["after"]
    assert (before["task_definition"], before["drift"], before["drift_reason"]) == (deployed, False, None)
    assert before["commit"] == build["commit"] and before["image"] == build["image"]["reference"]
    assert before["recorded"]["build_id"] == build["build_id"]
    assert before["rollout_state"] in ("COMPLETED", "IN_PROGRESS")
    assert [s["name"] for s in build["steps"]] == ["source", "login", "build", "push", "register", "update",
                                                   "rollout_wait"]
    assert after["task_definition"] == by_hand and after["drift"] is True
    assert after["drift_reason"] == (f"runs {by_hand.rsplit('/', 1)[1]}, pushdeploy last deployed "
                                     f"{deployed.rsplit('/', 1)[1]} (build {build['build_id']})")
    assert after["commit"] == build["commit"], "the same image: the commit of the build that made it"
