"""The pipeline stack makes a pool of BuilderCount builders (one to four), every one from the one launch template,
tagged as a builder, listed in the BuilderInstanceIds output that becomes BUILDER_INSTANCE_IDS; a builder's role
stops nothing (the Lambdas stop builders, and only the pool's)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest

from tests.infra.infra_stacks import (
    PIPELINE_TEMPLATE,
    PIPELINES,
    PipelineStack,
    deploy_pipeline,
    load_template,
    resources_of_type,
    role_policy,
    run_infra,
)


def _instances(aws: boto3.Session, ids: list[str]) -> list[dict]:
    found = aws.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    by_id = {i["InstanceId"]: i for r in found for i in r["Instances"]}
    return [by_id[i] for i in ids]


def _stack_instances(aws: boto3.Session, stack: str) -> set[str]:
    """Every instance the stack made, whatever its outputs say (its Name tag starts with the stack's name)."""
    found = aws.client("ec2").describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [f"{stack}-builder*"]}])["Reservations"]
    return {i["InstanceId"] for r in found for i in r["Instances"]}


def test_by_default_the_pool_is_the_one_builder(aws: boto3.Session, pipeline_stack: PipelineStack) -> None:
    out = pipeline_stack.outputs
    assert out["BuilderInstanceIds"] == out["BuilderInstanceId"]
    assert _stack_instances(aws, pipeline_stack.name) == {out["BuilderInstanceId"]}


@pytest.mark.parametrize("count", [3, 4])
def test_a_pool_of_n_is_n_tagged_instances_of_the_launch_template(aws: boto3.Session, count: int) -> None:
    stack = deploy_pipeline(aws, "pool", BuilderCount=str(count))
    ids = stack.outputs["BuilderInstanceIds"].split(",")
    assert len(ids) == len(set(ids)) == count
    assert ids[0] == stack.outputs["BuilderInstanceId"]
    assert _stack_instances(aws, "pool") == set(ids), "no instance beyond BuilderCount, none left out of the output"
    instances = _instances(aws, ids)
    names = [{t["Key"]: t["Value"] for t in i["Tags"]}["Name"] for i in instances]
    assert names == ["pool-builder"] + [f"pool-builder-{n}" for n in range(2, count + 1)]
    ec2 = aws.client("ec2")
    user_data = set()
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["pushdeploy:role"] == "builder", "the Lambdas start and stop nothing without the tag"
        assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/pool-builder")
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        attribute = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
        user_data.add(base64.b64decode(attribute["UserData"]["Value"]).decode())
    assert len(user_data) == 1 and "/opt/pushdeploy/src/agent/install.sh" in user_data.pop()
    assert len({i["ImageId"] for i in instances}) == 1 and len({i["InstanceType"] for i in instances}) == 1


def test_every_builder_instance_is_the_launch_template_plus_its_name() -> None:
    template = load_template(PIPELINE_TEMPLATE)
    instances = resources_of_type(template, "AWS::EC2::Instance")
    assert sorted(instances) == ["BuilderInstance", "BuilderInstance2", "BuilderInstance3", "BuilderInstance4"]
    for name, instance in instances.items():
        properties = instance["Properties"]
        assert properties["LaunchTemplate"] == {
            "LaunchTemplateId": {"Ref": "BuilderLaunchTemplate"},
            "Version": {"Fn::GetAtt": ["BuilderLaunchTemplate", "LatestVersionNumber"]}}
        assert set(properties) == {"LaunchTemplate", "SubnetId", "Tags"}, f"{name} says more than its name"
    assert [instances[f"BuilderInstance{n}"]["Condition"] for n in (2, 3, 4)] == [
        "HasBuilder2", "HasBuilder3", "HasBuilder4"]
    assert template["Parameters"]["BuilderCount"]["AllowedValues"] == ["1", "2", "3", "4"]
    assert template["Parameters"]["BuilderCount"]["Default"] == "1"


def test_a_builder_may_tag_only_itself_and_stops_nothing(aws: boto3.Session, pipeline_stack: PipelineStack) -> None:
    """Least privilege for N builders: the role grants no StopInstances (close and reconcile stop builders), so
    a builder cannot stop another one that is building; its only EC2 write is the heartbeat tag on itself."""
    policy = role_policy(aws.client("iam"), "pushdeploy-pipeline-builder", "pushdeploy-builder")
    ec2_actions = {a for s in policy["Statement"] if isinstance(s, dict)
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]) if a.startswith("ec2:")}
    assert ec2_actions == {"ec2:CreateTags"}


def test_record_gives_the_lambdas_the_whole_pool_and_drops_the_one_builder_setting(aws: boto3.Session,
                                                                                    project: Path) -> None:
    """An install from before the pool has BUILDER_INSTANCE_ID in its stage; after the stack update, record
    writes BUILDER_INSTANCE_IDS and removes the old name, and start/stop name every builder of the pool."""
    stack = deploy_pipeline(aws, "pool", BuilderCount="3")
    (project / "agent-settings.toml").write_text(PIPELINES)
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"]["prod"]["environment_variables"]["BUILDER_INSTANCE_ID"] = "i-0123456789abcdef0"
    config_path.write_text(json.dumps(config))

    done = run_infra("record", "--stack", "pool", "--stage", "prod", "--project", str(project))
    assert done.returncode == 0, done.stderr
    env = json.loads(config_path.read_text())["stages"]["prod"]["environment_variables"]
    ids = stack.outputs["BuilderInstanceIds"].split(",")
    assert env["BUILDER_INSTANCE_IDS"] == ",".join(ids) and len(ids) == 3
    assert "BUILDER_INSTANCE_ID" not in env
    assert "removed prod BUILDER_INSTANCE_ID" in done.stderr
    arns = [f"arn:aws:ec2:us-east-1:123456789012:instance/{i}" for i in ids]
    for policy, sids in (("build_start", ["StartOnlyTheBuilder"]), ("close", ["StopOnlyTheBuilder"]),
                         ("reconcile", ["StartOnlyTheBuilder", "StopOnlyTheBuilder"])):
        document = json.loads((project / ".chalice" / f"policy-prod-{policy}.json").read_text())
        for sid in sids:
            (statement,) = [s for s in document["Statement"] if s.get("Sid") == sid]
            assert statement["Resource"] == arns, f"{policy} {sid}"
            assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/pushdeploy:role": "builder"}}
