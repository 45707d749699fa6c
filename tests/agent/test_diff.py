"""`diff` shows, per service, what a deploy would change in its task definition, and changes nothing."""

import boto3
import pytest

from agent.ecs.deploy import DeployTarget, diff_task_definition

OLD = "127.0.0.1:5000/production/sample:1"
NEW = "127.0.0.1:5000/production/sample:2"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def register(ecs, image, family="production-task"):
    return ecs.register_task_definition(
        family=family, cpu="256", memory="512", tags=[{"key": "team", "value": "web"}],
        containerDefinitions=[{"name": "app", "image": image, "memory": 128},
                              {"name": "otel", "image": "public.ecr.aws/aws-observability/aws-otel-collector:latest",
                               "memory": 64}])["taskDefinition"]["taskDefinitionArn"]


def test_diff_shows_only_the_target_image_and_changes_nothing(ecs):
    arn = register(ecs, OLD)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=arn, desiredCount=1)

    text = diff_task_definition(ecs, DeployTarget("production-cluster", ("web",)), NEW, "production/sample")

    lines = text.splitlines()
    assert lines[0] == f"# production-cluster/web: runs production-task:1; container app: {OLD} -> {NEW}"
    assert lines[1:3] == ["--- production-task:1", "+++ production-task:1 (new)"]
    changed = [line for line in lines[3:] if line[:1] in "+-"]
    assert changed == [f'-      "image": "{OLD}",', f'+      "image": "{NEW}",']
    assert ecs.list_task_definitions(familyPrefix="production-task")["taskDefinitionArns"] == [arn]


def test_diff_says_when_services_share_a_revision_or_nothing_changes(ecs):
    arn = register(ecs, OLD)
    same = register(ecs, NEW, family="api-task")
    for name, td in (("web", arn), ("admin", arn), ("api", same)):
        ecs.create_service(cluster="production-cluster", serviceName=name, taskDefinition=td, desiredCount=1)

    text = diff_task_definition(ecs, DeployTarget("production-cluster", ("web", "admin", "api")), NEW,
                                "production/sample")

    assert text.count("+++ production-task:1 (new)") == 1
    assert "# production-cluster/admin: runs production-task:1" in text
    assert "# same new revision as above" in text
    assert f"# production-cluster/api: runs api-task:1; container app: already {NEW}\n# no change" in text
