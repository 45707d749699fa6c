"""A rollout that never completes times out on an injected clock, with backoff, and every updated
service is put back. moto server keeps a desiredCount 2 service IN_PROGRESS for ever (the session
server reports one running task), which makes a real, fast timeout."""

import boto3
import pytest

from agent.ecs.api import Ecs, RolloutTimeout
from agent.ecs.deploy import DeployTarget, deploy_image, verify_interrupted
from agent.ecs.rollout import Expectation, wait_for_rollouts
from chalicelib.contracts import ServiceDeployment

OLD = "127.0.0.1:5000/production/sample:1"
NEW = "127.0.0.1:5000/production/sample:2"


class FakeTime:
    """sleep() moves the clock instead of waiting."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def register(ecs, image):
    return ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": image, "memory": 128}])["taskDefinition"]["taskDefinitionArn"]


def running(ecs, name):
    return ecs.describe_services(cluster="production-cluster", services=[name])["services"][0]["taskDefinition"]


def test_wait_backs_off_from_2s_doubling_to_15s_and_names_the_pending_service(ecs):
    old, new = register(ecs, OLD), register(ecs, NEW)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=old, desiredCount=2)
    ecs.update_service(cluster="production-cluster", service="web", taskDefinition=new)
    fake = FakeTime()
    lines = []

    with pytest.raises(RolloutTimeout) as info:
        wait_for_rollouts(Ecs(ecs, sleep=fake.sleep, clock=fake.clock),
                          [Expectation("production-cluster", "web", new)], timeout=100, log=lines.append)

    assert fake.sleeps == [2, 4, 8, 15, 15, 15, 15, 15, 11]
    state = "production-cluster/web: production-task:2 IN_PROGRESS, running 1/2, 1 other deployment(s)"
    assert state in str(info.value)
    assert lines == [f"wait {state}"]


def test_timeout_rolls_every_updated_service_back_and_says_which_rollback_did_not_finish(ecs):
    old = register(ecs, OLD)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=old, desiredCount=1)
    ecs.create_service(cluster="production-cluster", serviceName="worker", taskDefinition=old, desiredCount=2)
    fake = FakeTime()
    lines = []

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web", "worker"))], NEW, "production/sample",
                          wait_timeout=60, log=lines.append, sleep=fake.sleep, clock=fake.clock)

    assert report.outcome == "failed"
    assert "rollout not completed after 60s: production-cluster/worker" in report.error
    assert "rollback failed" in report.error
    assert "production-cluster/web" not in report.error.split("rollback failed")[1]
    assert running(ecs, "web") == old
    assert running(ecs, "worker") == old
    assert sum(fake.sleeps) == 120  # the rollout's 60 s, then the rollback's 60 s
    assert "rollback production-cluster/worker: production-task:2 -> production-task:1" in lines
    assert [s.new_task_definition for s in report.services] == [old[:-1] + "2"] * 2


def test_an_interrupted_deploy_still_rolling_is_waited_for_and_rolled_back_when_it_times_out(ecs):
    """The agent died mid-rollout; the next run finds the service still on the new revision, IN_PROGRESS."""
    old, new = register(ecs, OLD), register(ecs, NEW)
    ecs.create_service(cluster="production-cluster", serviceName="worker", taskDefinition=old, desiredCount=2)
    ecs.update_service(cluster="production-cluster", service="worker", taskDefinition=new)
    fake = FakeTime()
    lines = []

    report = verify_interrupted(ecs, [ServiceDeployment("production-cluster", "worker", old, new)], wait_timeout=60,
                                log=lines.append, sleep=fake.sleep, clock=fake.clock)

    assert report is not None and report.outcome == "failed"  # moto never settles desiredCount 2, not even back
    assert report.error.startswith("rollout not completed after 60s: production-cluster/worker")
    assert running(ecs, "worker") == old
    assert sum(fake.sleeps) == 120  # waited as a deploy waits, then for the rollback
    assert "rollback production-cluster/worker: production-task:2 -> production-task:1" in lines
