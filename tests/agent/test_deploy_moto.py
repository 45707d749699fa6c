"""A deploy on moto server: each service moves to a copy of the revision it runs, with the new
image, and the report and log say which revision and image run where."""

import boto3
import pytest

from agent.ecs.deploy import DeployTarget, deploy_image

REGISTRY = "127.0.0.1:5000"
OLD = f"{REGISTRY}/production/sample:20261126110000-aaaaaaa"
NEW = f"{REGISTRY}/production/sample:20261126120000-bbbbbbb"
SIDECAR = "public.ecr.aws/aws-observability/aws-otel-collector:latest"


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def register(ecs, family="production-task", image=OLD):
    containers = [{"name": "app", "image": image, "memory": 128},
                  {"name": "otel", "image": SIDECAR, "memory": 64, "essential": False}]
    return ecs.register_task_definition(family=family, containerDefinitions=containers)["taskDefinition"][
        "taskDefinitionArn"]


def service(ecs, name, task_definition, cluster="production-cluster", desired=1):
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=task_definition, desiredCount=desired)


def running(ecs, name, cluster="production-cluster"):
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]["taskDefinition"]


def images(ecs, arn):
    return {c["name"]: c["image"] for c in ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
        "containerDefinitions"]}


def test_deploy_puts_the_image_on_the_service_and_reports_both_revisions(ecs):
    old = register(ecs)
    service(ecs, "web", old)
    lines = []

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], NEW, "production/sample",
                          log=lines.append)

    assert report.outcome == "succeeded"
    assert report.error is None
    (svc,) = report.services
    assert (svc.cluster, svc.service, svc.previous_task_definition) == ("production-cluster", "web", old)
    assert running(ecs, "web") == svc.new_task_definition
    assert images(ecs, svc.new_task_definition) == {"app": NEW, "otel": SIDECAR}
    text = "\n".join(lines)
    for needed in ("production-cluster/web", "production-task:1", "production-task:2", NEW, OLD):
        assert needed in text


def test_services_sharing_a_revision_share_the_new_one_across_clusters(ecs):
    ecs.create_cluster(clusterName="batch-cluster")
    old = register(ecs)
    service(ecs, "web", old)
    service(ecs, "api", old)
    service(ecs, "jobs", old, cluster="batch-cluster")
    targets = [DeployTarget("production-cluster", ("web", "api")), DeployTarget("batch-cluster", ("jobs",))]

    report = deploy_image(ecs, targets, NEW, "production/sample", log=lambda _: None)

    assert report.outcome == "succeeded"
    news = {s.new_task_definition for s in report.services}
    assert len(news) == 1
    assert {running(ecs, "web"), running(ecs, "api"), running(ecs, "jobs", "batch-cluster")} == news
    assert len(ecs.list_task_definitions(familyPrefix="production-task")["taskDefinitionArns"]) == 2


def test_an_image_already_running_registers_nothing(ecs):
    old = register(ecs, image=NEW)
    service(ecs, "web", old)
    lines = []

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], NEW, "production/sample",
                          log=lines.append)

    assert report.outcome == "succeeded"
    assert report.services[0].new_task_definition == old
    assert ecs.list_task_definitions(familyPrefix="production-task")["taskDefinitionArns"] == [old]
    assert any("already" in line for line in lines)


def test_dry_run_changes_nothing(ecs):
    old = register(ecs)
    service(ecs, "web", old)
    lines = []

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], NEW, "production/sample",
                          log=lines.append, dry_run=True)

    assert report.outcome == "succeeded"
    assert report.services[0].new_task_definition is None
    assert running(ecs, "web") == old
    assert ecs.list_task_definitions(familyPrefix="production-task")["taskDefinitionArns"] == [old]
    assert any(f"container app: {OLD} -> {NEW}" in line for line in lines)


@pytest.mark.parametrize(
    ("targets", "image", "reason"),
    [
        ([DeployTarget("production-cluster", ("web", "missing"))], NEW, "services not found"),
        ([], NEW, "no deploy targets given"),
        ([DeployTarget("no-such-cluster", ("web",))], NEW, "no-such-cluster"),
        ([DeployTarget("production-cluster", ())], NEW, "names no service"),
        ([DeployTarget("production-cluster", ("web",))], "127.0.0.1:5001/production/sample:1",
         "no container running an image from 127.0.0.1:5001/production/sample"),
        ([DeployTarget("production-cluster", ("web",), ("nope",))], NEW, "no container named nope"),
        ([DeployTarget("production-cluster", ("web",))], "Bad Image", "whitespace"),
        ([DeployTarget("production-cluster", ("web",)), DeployTarget("production-cluster", ("web",), ("app",))],
         NEW, "service production-cluster/web is named twice"),
    ],
)
def test_bad_targets_fail_before_anything_changes(ecs, targets, image, reason):
    old = register(ecs)
    service(ecs, "web", old)

    report = deploy_image(ecs, targets, image, "production/sample", log=lambda _: None)

    assert report.outcome == "failed"
    assert reason in report.error
    assert running(ecs, "web") == old
    assert ecs.list_task_definitions(familyPrefix="production-task")["taskDefinitionArns"] == [old]


def test_explicit_containers_take_the_image(ecs):
    old = register(ecs)
    service(ecs, "web", old)
    collector = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",), ("otel",))], collector,
                          "aws-observability/aws-otel-collector", log=lambda _: None)

    assert report.outcome == "succeeded"
    assert images(ecs, running(ecs, "web")) == {"app": OLD, "otel": collector}


def test_an_earlier_rollout_still_running_is_noted(ecs):
    old = register(ecs)
    service(ecs, "web", old, desired=2)  # moto keeps a desiredCount 2 rollout IN_PROGRESS
    ecs.update_service(cluster="production-cluster", service="web", taskDefinition=register(ecs, image=NEW))
    lines = []

    deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], NEW, "production/sample", log=lines.append,
                 dry_run=True)

    assert "note production-cluster/web: earlier deployment(s) of production-task:1 still draining" in lines
