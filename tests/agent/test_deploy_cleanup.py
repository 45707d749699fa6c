"""After a deploy, revisions older than the newest N of the family are deregistered, except any
revision a service uses (in any cluster), and other families (even with the same prefix) stay."""

import boto3
import pytest
from botocore.stub import Stubber

from agent.ecs.api import Ecs
from agent.ecs.deploy import DeployTarget, deploy_image
from chalicelib.arns import parse_task_definition

IMAGE = "127.0.0.1:5000/production/sample:{}"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    for name in ("production-cluster", "staging-cluster"):
        client.create_cluster(clusterName=name)
    return client


def register(ecs, family, n):
    return [ecs.register_task_definition(family=family, containerDefinitions=[
        {"name": "app", "image": IMAGE.format(i), "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
        for i in range(1, n + 1)]


def active_revisions(ecs, family):
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    refs = [parse_task_definition(a) for a in arns]
    return sorted(ref.revision for ref in refs if ref.family == family)


def test_keeps_the_newest_n_and_every_revision_in_use(ecs):
    revs = register(ecs, "production-task", 12)
    other = register(ecs, "production-task-worker", 3)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[11], desiredCount=1)
    ecs.create_service(cluster="staging-cluster", serviceName="old-web", taskDefinition=revs[1], desiredCount=1)
    lines = []

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], IMAGE.format("new"),
                          "production/sample", keep_revisions=5, log=lines.append)

    assert report.outcome == "succeeded"
    assert active_revisions(ecs, "production-task") == [2, 9, 10, 11, 12, 13]
    assert active_revisions(ecs, "production-task-worker") == [1, 2, 3]
    assert len(other) == 3
    assert "clean-up production-task: deregistered production-task:8" in lines
    assert "clean-up production-task: keep production-task:2 (in use)" in lines


def test_keep_zero_keeps_everything(ecs):
    revs = register(ecs, "production-task", 4)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[-1], desiredCount=1)

    deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], IMAGE.format("new"), "production/sample",
                 keep_revisions=0, log=lambda _: None)

    assert active_revisions(ecs, "production-task") == [1, 2, 3, 4, 5]


def test_keep_one_still_keeps_the_revision_to_roll_back_to(ecs):
    revs = register(ecs, "production-task", 3)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[1], desiredCount=1)

    deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], IMAGE.format("new"), "production/sample",
                 keep_revisions=1, log=lambda _: None)

    assert active_revisions(ecs, "production-task") == [2, 4]


def test_services_beyond_one_describe_batch_protect_their_revisions(ecs):
    revs = register(ecs, "production-task", 14)
    for i in range(12):  # more services than one describe_services call takes (10)
        ecs.create_service(cluster="staging-cluster", serviceName=f"s{i:02d}", taskDefinition=revs[i], desiredCount=1)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[13], desiredCount=1)

    deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], IMAGE.format("new"), "production/sample",
                 keep_revisions=2, log=lambda _: None)

    assert active_revisions(ecs, "production-task") == list(range(1, 13)) + [14, 15]


def test_listing_follows_next_tokens_and_keeps_only_the_exact_family():
    client = boto3.client("ecs", region_name="us-east-1", endpoint_url="https://ecs.us-east-1.amazonaws.com",
                          aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/{}"
    with Stubber(client) as stub:
        stub.add_response("list_task_definitions",
                          {"taskDefinitionArns": [arn.format("web:1"), arn.format("web-worker:1")], "nextToken": "t"},
                          {"familyPrefix": "web", "status": "ACTIVE"})
        stub.add_response("list_task_definitions", {"taskDefinitionArns": [arn.format("web:2")]},
                          {"familyPrefix": "web", "status": "ACTIVE", "nextToken": "t"})
        assert Ecs(client).list_task_definitions("web") == [arn.format("web:1"), arn.format("web:2")]
        stub.assert_no_pending_responses()
