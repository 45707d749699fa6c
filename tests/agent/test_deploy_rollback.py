"""`rollback` puts a service back on its previous revision (or a named one) and waits for it."""

import boto3
import pytest

from agent.ecs.api import RolloutTimeout, TargetError
from agent.ecs.deploy import DeployTarget, current_images, rollback_service

IMAGE = "127.0.0.1:5000/production/sample:{}"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def register(ecs, n, family="production-task"):
    return [ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": IMAGE.format(i), "memory": 64},
        {"name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest", "memory": 64}])[
        "taskDefinition"]["taskDefinitionArn"] for i in range(1, n + 1)]


def running(ecs, name="web"):
    return ecs.describe_services(cluster="production-cluster", services=[name])["services"][0]["taskDefinition"]


def test_rolls_back_to_the_newest_active_revision_before_the_current_one(ecs):
    revs = register(ecs, 4)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[3], desiredCount=1)
    ecs.deregister_task_definition(taskDefinition=revs[2])
    lines = []

    result = rollback_service(ecs, "production-cluster", "web", log=lines.append)

    assert (result.previous_task_definition, result.new_task_definition) == (revs[3], revs[1])
    assert running(ecs) == revs[1]
    assert "rollback production-cluster/web: runs production-task:4, going to production-task:2" in lines


def test_rolls_back_to_a_named_revision(ecs):
    revs = register(ecs, 3)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[2], desiredCount=1)

    result = rollback_service(ecs, "production-cluster", "web", to="production-task:1", log=lambda _: None)

    assert result.new_task_definition == revs[0]
    assert running(ecs) == revs[0]


def test_a_service_named_by_its_arn_is_rolled_back_and_waited_for(ecs):
    revs = register(ecs, 2)
    service_arn = ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[1],
                                     desiredCount=1)["service"]["serviceArn"]

    result = rollback_service(ecs, "production-cluster", service_arn, log=lambda _: None)

    assert result.new_task_definition == revs[0]
    assert running(ecs) == revs[0]


def test_no_earlier_revision_is_an_error_naming_the_family(ecs):
    revs = register(ecs, 1)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[0], desiredCount=1)
    with pytest.raises(TargetError, match="no ACTIVE revision of production-task older than production-task:1"):
        rollback_service(ecs, "production-cluster", "web", log=lambda _: None)


def test_a_rollback_that_does_not_complete_times_out(ecs):
    revs = register(ecs, 2)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[1], desiredCount=2)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(RolloutTimeout, match="production-cluster/web: production-task:1 IN_PROGRESS"):
        rollback_service(ecs, "production-cluster", "web", wait_timeout=30, log=lambda _: None,
                         sleep=sleep, clock=lambda: now[0])
    assert running(ecs) == revs[0]


def test_current_images_are_the_target_containers_images(ecs):
    revs = register(ecs, 2)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[0], desiredCount=1)
    ecs.create_service(cluster="production-cluster", serviceName="api", taskDefinition=revs[1], desiredCount=1)
    target = DeployTarget("production-cluster", ("web", "api"))

    assert current_images(ecs, [target], "production/sample") == [IMAGE.format(1), IMAGE.format(2)]
    assert current_images(ecs, [target], "production/sample", registry="127.0.0.1:5001") == []
    named = DeployTarget("production-cluster", ("web",), ("otel",))
    assert current_images(ecs, [named], "production/sample") == [
        "public.ecr.aws/aws-observability/aws-otel-collector:latest"]
