"""The check of an interrupted deploy (from its journal) on moto: which services it moved, which it
left alone because they already ran the image, and which are back where they were."""

import boto3
import pytest

from agent.ecs.deploy import verify_interrupted
from chalicelib.contracts import ServiceDeployment

OLD = "127.0.0.1:5000/production/sample:1"
NEW = "127.0.0.1:5000/production/sample:2"
CLUSTER = "production-cluster"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName=CLUSTER)
    return client


def register(ecs, image):
    return ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": image, "memory": 128}])["taskDefinition"]["taskDefinitionArn"]


def test_a_service_the_deploy_left_alone_does_not_hide_the_one_it_moved(ecs):
    old, new = register(ecs, OLD), register(ecs, NEW)
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition=old, desiredCount=1)
    ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=new)  # then the agent was killed
    ecs.create_service(cluster=CLUSTER, serviceName="api", taskDefinition=new, desiredCount=1)  # ran it already
    lines = []

    report = verify_interrupted(ecs, [ServiceDeployment(CLUSTER, "web", old, new),
                                      ServiceDeployment(CLUSTER, "api", new, new)], log=lines.append)

    assert report is not None and report.outcome == "succeeded"
    assert f"verify {CLUSTER}/web: the interrupted deploy moved it to production-task:2; checking its rollout" in lines


def test_a_service_back_on_its_previous_revision_asks_for_a_normal_deploy(ecs):
    old, new = register(ecs, OLD), register(ecs, NEW)
    for name in ("web", "worker"):
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=old, desiredCount=1)
    ecs.update_service(cluster=CLUSTER, service="web", taskDefinition=new)
    lines = []

    report = verify_interrupted(ecs, [ServiceDeployment(CLUSTER, "web", old, new),
                                      ServiceDeployment(CLUSTER, "worker", old, new)], log=lines.append)

    assert report is None
    assert f"verify {CLUSTER}/worker: runs production-task:1, not the interrupted deploy's production-task:2" in lines
