"""Rollouts moto cannot model, driven through the real deploy code by botocore's Stubber:
a circuit-breaker rollback, a FAILED deployment, a timeout that rolls back cleanly, and a rollback
that fails too. Responses are shaped like ECS's (reasons from tests/fixtures/events/06*.json)."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from agent.ecs.deploy import DeployTarget, deploy_image
from chalicelib.arns import parse_task_definition
from tests.conftest import load_event

CLUSTER = "arn:aws:ecs:us-west-2:111122223333:cluster/default"
ARN = "arn:aws:ecs:us-west-2:111122223333:task-definition/web:{}"
OLD, NEW = ARN.format(5), ARN.format(6)
OLD_IMAGE = "111122223333.dkr.ecr.us-west-2.amazonaws.com/production/sample:1"
NEW_IMAGE = "111122223333.dkr.ecr.us-west-2.amazonaws.com/production/sample:2"
ROLLING_BACK = load_event("06a_ecs_deployment_state_change_IN_PROGRESS_rollback.awsdocs.json")["detail"]["reason"]
COMPLETED = load_event("06b_ecs_deployment_state_change_COMPLETED.awsdocs.json")["detail"]["reason"]
FAILED = load_event("06c_ecs_deployment_state_change_FAILED.awsdocs.json")["detail"]["reason"]
NOW = datetime(2020, 5, 23, 11, 11, 11, tzinfo=UTC)


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def deployment(status, task_definition, state, reason="", running=1):
    return {"id": f"ecs-svc/{task_definition[-1]}", "status": status, "taskDefinition": task_definition,
            "desiredCount": 1, "runningCount": running, "pendingCount": 1 - running, "failedTasks": 0,
            "createdAt": NOW, "updatedAt": NOW, "rolloutState": state, "rolloutStateReason": reason}


def service(*deployments):
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    return {"serviceName": "servicetest", "serviceArn": CLUSTER.replace(":cluster/", ":service/") + "/servicetest",
            "clusterArn": CLUSTER, "status": "ACTIVE", "desiredCount": 1, "runningCount": primary["runningCount"],
            "taskDefinition": primary["taskDefinition"], "deployments": list(deployments),
            "deploymentController": {"type": "ECS"}}


def taskdef(arn, image):
    return {"taskDefinitionArn": arn, "family": "web", "revision": parse_task_definition(arn).revision,
            "status": "ACTIVE", "containerDefinitions": [{"name": "app", "image": image, "memory": 128}],
            "compatibilities": ["EC2"], "registeredAt": NOW}


@pytest.fixture
def stubbed():
    client = boto3.client("ecs", region_name="us-west-2", endpoint_url="https://ecs.us-west-2.amazonaws.com",
                          aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def describe(stub, *deployments):
    stub.add_response("describe_services", {"services": [service(*deployments)], "failures": []},
                      {"cluster": "default", "services": ["servicetest"]})


def deploy_until_first_wait(stub):
    """Plan, register and update: the part before the wait every scenario shares."""
    describe(stub, deployment("PRIMARY", OLD, "COMPLETED", COMPLETED))
    stub.add_response("describe_task_definition", {"taskDefinition": taskdef(OLD, OLD_IMAGE),
                                                   "tags": [{"key": "team", "value": "web"}]},
                      {"taskDefinition": OLD, "include": ["TAGS"]})
    stub.add_response("register_task_definition", {"taskDefinition": taskdef(NEW, NEW_IMAGE)},
                      {"family": "web", "containerDefinitions": [{"name": "app", "image": NEW_IMAGE, "memory": 128}],
                       "tags": [{"key": "team", "value": "web"}]})
    update(stub, NEW)


def update(stub, arn):
    stub.add_response("update_service", {"service": service(deployment("PRIMARY", arn, "IN_PROGRESS", running=0))},
                      {"cluster": "default", "service": "servicetest", "taskDefinition": arn})


def run(client, fake, lines, timeout=900):
    return deploy_image(client, [DeployTarget("default", ("servicetest",))], NEW_IMAGE, "production/sample",
                        wait_timeout=timeout, log=lines.append, sleep=fake.sleep, clock=fake.clock)


def test_circuit_breaker_rollback_is_reported_rolled_back_not_success(stubbed):
    client, stub = stubbed
    deploy_until_first_wait(stub)
    describe(stub, deployment("PRIMARY", NEW, "IN_PROGRESS", running=0), deployment("ACTIVE", OLD, "COMPLETED"))
    describe(stub, deployment("PRIMARY", OLD, "IN_PROGRESS", ROLLING_BACK, running=0),
             deployment("ACTIVE", NEW, "FAILED", FAILED, running=0))
    update(stub, OLD)
    describe(stub, deployment("PRIMARY", OLD, "COMPLETED", ROLLING_BACK))
    fake, lines = FakeTime(), []

    report = run(client, fake, lines)

    assert report.outcome == "rolled_back"
    assert "the deployment circuit breaker rolled back web:6 (deployment ecs-svc/5 on web:5)" in report.error
    assert "rolled back default/servicetest to web:5" in report.error
    assert report.services[0].previous_task_definition == OLD
    assert report.services[0].new_task_definition == NEW
    assert fake.sleeps == [2]
    assert "rollback default/servicetest: web:6 -> web:5" in lines


def test_a_failed_deployment_rolls_back(stubbed):
    client, stub = stubbed
    deploy_until_first_wait(stub)
    describe(stub, deployment("PRIMARY", NEW, "FAILED", FAILED, running=0), deployment("ACTIVE", OLD, "COMPLETED"))
    update(stub, OLD)
    describe(stub, deployment("PRIMARY", OLD, "IN_PROGRESS", running=0))
    describe(stub, deployment("PRIMARY", OLD, "COMPLETED", COMPLETED))
    fake, lines = FakeTime(), []

    report = run(client, fake, lines)

    assert report.outcome == "rolled_back"
    assert "web:6 FAILED: ECS deployment circuit breaker: task failed to start." in report.error
    assert fake.sleeps == [2]


def test_a_timeout_rolls_back_and_the_rollback_completes(stubbed):
    client, stub = stubbed
    deploy_until_first_wait(stub)
    for _ in range(4):  # t = 0, 2, 6, 10(deadline): never completes
        describe(stub, deployment("PRIMARY", NEW, "IN_PROGRESS", running=0), deployment("ACTIVE", OLD, "COMPLETED"))
    update(stub, OLD)
    describe(stub, deployment("PRIMARY", OLD, "COMPLETED", COMPLETED))
    fake, lines = FakeTime(), []

    report = run(client, fake, lines, timeout=10)

    assert report.outcome == "rolled_back"
    assert "rollout not completed after 10s: default/servicetest: web:6 IN_PROGRESS, running 0/1" in report.error
    assert fake.sleeps == [2, 4, 4]


def test_a_rollback_that_fails_too_is_reported_failed_and_says_so(stubbed):
    client, stub = stubbed
    deploy_until_first_wait(stub)
    describe(stub, deployment("PRIMARY", NEW, "FAILED", FAILED, running=0), deployment("ACTIVE", OLD, "COMPLETED"))
    stub.add_client_error("update_service", "AccessDeniedException", "not allowed to ecs:UpdateService",
                          expected_params={"cluster": "default", "service": "servicetest", "taskDefinition": OLD})
    fake, lines = FakeTime(), []

    report = run(client, fake, lines)

    assert report.outcome == "failed"
    assert report.error.startswith("default/servicetest: deployment of web:6 FAILED")
    assert "rollback failed: update service default/servicetest to " + OLD in report.error
    assert "AccessDeniedException" in report.error


def test_an_update_that_fails_changes_nothing_else(stubbed):
    client, stub = stubbed
    describe(stub, deployment("PRIMARY", OLD, "COMPLETED", COMPLETED))
    stub.add_response("describe_task_definition", {"taskDefinition": taskdef(OLD, OLD_IMAGE)}, None)
    stub.add_response("register_task_definition", {"taskDefinition": taskdef(NEW, NEW_IMAGE)}, None)
    stub.add_client_error("update_service", "ServiceNotActiveException", "Service was not ACTIVE.")
    fake, lines = FakeTime(), []

    report = run(client, fake, lines)

    assert report.outcome == "failed"
    assert "ServiceNotActiveException" in report.error
    assert fake.sleeps == []
