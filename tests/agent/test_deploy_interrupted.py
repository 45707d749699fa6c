"""SIGTERM in the middle of a deploy (systemd stopping the unit, the machine shutting down) is not an
Exception, yet a service that already changed must still be put back: the rollback is asked for
without waiting (systemd kills the agent 90 s later) and the interruption goes on."""

import boto3
import pytest

from agent.ecs.deploy import DeployTarget, deploy_image
from agent.runner import Terminated

OLD = "127.0.0.1:5000/production/sample:old"
NEW = "127.0.0.1:5000/production/sample:new"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def register(ecs):
    return ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": OLD, "memory": 128}])["taskDefinition"]["taskDefinitionArn"]


def running(ecs, name):
    return ecs.describe_services(cluster="production-cluster", services=[name])["services"][0]["taskDefinition"]


def test_sigterm_after_the_first_service_changed_puts_it_back_and_goes_on(ecs):
    old = register(ecs)
    for name in ("web", "worker"):
        ecs.create_service(cluster="production-cluster", serviceName=name, taskDefinition=old, desiredCount=1)
    lines: list[str] = []

    def sigterm_after_the_first_update(line: str) -> None:
        lines.append(line)
        if line.startswith("update production-cluster/web:"):
            raise Terminated("signal 15")

    with pytest.raises(Terminated):
        deploy_image(ecs, [DeployTarget("production-cluster", ("web", "worker"))], NEW, "production/sample",
                     log=sigterm_after_the_first_update)

    assert running(ecs, "web") == old and running(ecs, "worker") == old
    assert any(line.startswith("rollback production-cluster/web: production-task:2 -> production-task:1 "
                               "(interrupted by Terminated; not waiting)") for line in lines)
    assert not any(line.startswith("update production-cluster/worker") for line in lines)
