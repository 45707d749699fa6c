"""After a deploy on moto server, the new revision equals the old one except the target images:
the sample task definitions and harder ones (sidecars from public registries, a registry with a
port, a digest-pinned image, several target containers, tags)."""

import json

import boto3
import pytest

from agent.ecs import taskdef
from agent.ecs.deploy import DeployTarget, deploy_image
from tests.conftest import FIXTURES, load_event

IDENTITY = {"taskDefinitionArn", "revision", "registeredAt", "registeredBy"}

CASES = [
    # (source, loader, image_repository, new image, containers expected to change)
    ("05b", lambda: (load_event("05b_ecs_task_definition_fargate_webserver.awsdocs.json"), []),
     "library/httpd", "httpd:2.4.62", {"sample-fargate-app"}),
    ("05d", lambda: _describe_form(load_event(
        "05d_ecs_describe_task_definition_fargate_multi_container.moto-GENERATED.json")),
     "app", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:def5678", {"app"}),
    ("ecr-digest-sidecars", lambda: _describe_form(_taskdef("ecr_digest_sidecars.describe.json")),
     "production/sample",
     "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:20261126120000-abc1234"
     "@sha256:" + "ab" * 32, {"app"}),
    ("port-registry-bridge", lambda: _describe_form(_taskdef("port_registry_bridge.describe.json")),
     "team/production/sample", "registry.example.com:5443/team/production/sample:20261126120000-abc1234",
     {"web", "jobs"}),
]


def _taskdef(name):
    return json.loads((FIXTURES / "taskdefs" / name).read_text())


def _describe_form(doc):
    return taskdef.to_register_input(doc["taskDefinition"]), doc.get("tags", [])


def _register_and_serve(ecs, register_input, tags):
    ecs.create_cluster(clusterName="production-cluster")
    params = dict(register_input, **({"tags": tags} if tags else {}))
    arn = ecs.register_task_definition(**params)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=arn, desiredCount=1)
    return arn


@pytest.mark.parametrize(("name", "load", "repository", "image", "targets"), CASES, ids=[c[0] for c in CASES])
def test_new_revision_equals_old_except_target_images(aws, name, load, repository, image, targets):
    ecs = boto3.client("ecs")
    register_input, tags = load()
    old_arn = _register_and_serve(ecs, register_input, tags)

    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], image, repository, log=lambda _: None)

    assert report.outcome == "succeeded", report.error
    new_arn = report.services[0].new_task_definition
    assert new_arn != old_arn
    old = ecs.describe_task_definition(taskDefinition=old_arn, include=["TAGS"])
    new = ecs.describe_task_definition(taskDefinition=new_arn, include=["TAGS"])
    assert new.get("tags", []) == old.get("tags", []) == tags
    changed = {c["name"] for c in new["taskDefinition"]["containerDefinitions"] if c["image"] == image}
    assert changed == targets
    expected = json.loads(json.dumps(old["taskDefinition"], default=str))
    for container in expected["containerDefinitions"]:
        if container["name"] in targets:
            container["image"] = image
    actual = json.loads(json.dumps(new["taskDefinition"], default=str))
    # register-shape comparison (what we send) and whole-describe comparison (what AWS keeps)
    assert taskdef.to_register_input(actual, new.get("tags")) == taskdef.to_register_input(expected, old.get("tags"))
    assert {k: v for k, v in actual.items() if k not in IDENTITY} == {
        k: v for k, v in expected.items() if k not in IDENTITY}


def test_starts_from_the_revision_the_service_runs_not_the_newest(aws):
    ecs = boto3.client("ecs")
    register_input, tags = _describe_form(_taskdef("port_registry_bridge.describe.json"))
    running = _register_and_serve(ecs, register_input, tags)
    newer = dict(register_input, cpu="2048")  # registered by someone, never deployed
    ecs.register_task_definition(**newer)

    image = "registry.example.com:5443/team/production/sample:next"
    report = deploy_image(ecs, [DeployTarget("production-cluster", ("web",))], image, "team/production/sample",
                          log=lambda _: None)

    assert report.services[0].previous_task_definition == running
    new = ecs.describe_task_definition(taskDefinition=report.services[0].new_task_definition)["taskDefinition"]
    assert new["revision"] == 3
    assert "cpu" not in new
