"""The copy of a task definition is driven by botocore's RegisterTaskDefinition schema: every
accepted field is kept, read-only ones (today's and tomorrow's) are dropped, only images change."""

import json

import pytest

from agent.docker.imageref import parse_image
from agent.ecs import taskdef
from agent.ecs.api import TargetError
from tests.conftest import FIXTURES, load_event

READ_ONLY = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    "revision": 1,
    "status": "ACTIVE",
    "compatibilities": ["EC2", "FARGATE"],
    "requiresAttributes": [{"name": "ecs.capability.secrets.ssm.environment-variables"}],
    "registeredAt": "2026-11-20T09:00:00+00:00",
    "registeredBy": "arn:aws:sts::123456789012:assumed-role/x/y",
    "deregisteredAt": "2026-11-21T09:00:00+00:00",
    "deleteRequestedAt": "2026-11-22T09:00:00+00:00",
    "someFutureReadOnlyKey": {"x": 1},
}


def describe_fixture(name):
    return json.loads((FIXTURES / "taskdefs" / name).read_text())


def test_every_member_of_the_register_input_shape_survives_the_copy():
    shape = taskdef.register_shape()
    described = {name: f"value of {name}" for name in shape.members if name != "tags"}
    described.update(READ_ONLY)
    copied = taskdef.to_register_input(described, [], shape)
    assert set(copied) == set(shape.members) - {"tags"}
    assert all(copied[k] == f"value of {k}" for k in copied)


def test_read_only_keys_are_dropped_and_reported():
    described = dict(load_event("05d_ecs_describe_task_definition_fargate_multi_container.moto-GENERATED.json")
                     ["taskDefinition"], **READ_ONLY)
    copied = taskdef.to_register_input(described)
    assert not set(READ_ONLY) & set(copied)
    assert taskdef.dropped_keys(described) == sorted(READ_ONLY)


def test_nested_output_only_keys_are_dropped_by_the_nested_shapes():
    described = {"family": "f", "containerDefinitions": [
        {"name": "a", "image": "x:1", "portMappings": [{"containerPort": 80, "notAnInputKey": 1}], "extra": True}]}
    copied = taskdef.to_register_input(described)
    assert copied["containerDefinitions"] == [{"name": "a", "image": "x:1", "portMappings": [{"containerPort": 80}]}]


def test_register_form_fixture_copies_unchanged():
    register_form = load_event("05b_ecs_task_definition_fargate_webserver.awsdocs.json")
    assert taskdef.to_register_input(register_form) == register_form


def test_tags_are_passed_back_and_omitted_when_empty():
    described = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x:1"}]}
    assert "tags" not in taskdef.to_register_input(described, [])
    tagged = taskdef.to_register_input(described, [{"key": "team", "value": "platform"}])
    assert tagged["tags"] == [{"key": "team", "value": "platform"}]


def test_render_changes_only_the_containers_of_the_image_repository():
    doc = describe_fixture("ecr_digest_sidecars.describe.json")
    image = "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:20261126120000-abc1234"
    rendered = taskdef.render(doc["taskDefinition"], doc["tags"], image, "production/sample")
    assert [(c.container, c.new) for c in rendered.changes] == [("app", image)]
    old_images = {c["name"]: c["image"] for c in rendered.old["containerDefinitions"]}
    new_images = {c["name"]: c["image"] for c in rendered.new["containerDefinitions"]}
    assert new_images == dict(old_images, app=image)
    for container in rendered.new["containerDefinitions"]:
        container["image"] = old_images[container["name"]]
    assert rendered.new == rendered.old
    assert rendered.changed


def test_render_with_a_port_registry_and_nested_path_takes_both_containers_of_that_repository():
    doc = describe_fixture("port_registry_bridge.describe.json")
    image = "registry.example.com:5443/team/production/sample:20261126120000-abc1234"
    rendered = taskdef.render(doc["taskDefinition"], doc["tags"], image, "team/production/sample")
    assert [c.container for c in rendered.changes] == ["web", "jobs"]


def test_same_repository_path_on_another_registry_is_not_a_target():
    doc = describe_fixture("port_registry_bridge.describe.json")
    with pytest.raises(TargetError, match="no container running an image from 127.0.0.1:5000/team/production/sample"):
        taskdef.render(doc["taskDefinition"], [], "127.0.0.1:5000/team/production/sample:2", "team/production/sample")


def test_named_containers_take_the_image_even_from_another_repository():
    doc = describe_fixture("port_registry_bridge.describe.json")
    rendered = taskdef.render(doc["taskDefinition"], [], "registry.example.com:5443/other:1", "other",
                              containers=["cache"])
    assert [c.container for c in rendered.changes] == ["cache"]


def test_an_unknown_container_name_is_an_error_listing_the_containers():
    doc = describe_fixture("port_registry_bridge.describe.json")
    with pytest.raises(TargetError, match=r"sample-ec2:7 has no container named nope .*web=registry"):
        taskdef.render(doc["taskDefinition"], [], "registry.example.com:5443/x:1", "x", containers=["nope"])


def test_the_same_image_is_not_a_change():
    doc = describe_fixture("port_registry_bridge.describe.json")
    current = doc["taskDefinition"]["containerDefinitions"][0]["image"]
    rendered = taskdef.render(doc["taskDefinition"], [], current, "team/production/sample")
    assert not rendered.changed


def test_docker_hub_official_image_matches_its_short_repository_name():
    described = {"family": "f", "containerDefinitions": [{"name": "a", "image": "nginx:1.26"},
                                                         {"name": "b", "image": "bitnami/nginx:1"}]}
    rendered = taskdef.render(described, [], "nginx:1.27", "nginx")
    assert [c.container for c in rendered.changes] == ["a"]
    assert parse_image(rendered.new["containerDefinitions"][0]["image"]).tag == "1.27"


def test_diff_shows_only_the_image_line():
    doc = describe_fixture("ecr_digest_sidecars.describe.json")
    image = "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:new"
    rendered = taskdef.render(doc["taskDefinition"], doc["tags"], image, "production/sample")
    text = taskdef.diff_inputs(rendered.old, rendered.new, "production-task:41", "production-task:41 (new)")
    changed = [line for line in text.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        f'-      "image": "{doc["taskDefinition"]["containerDefinitions"][0]["image"]}",',
        f'+      "image": "{image}",',
    ]
