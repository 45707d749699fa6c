"""The pipeline account comes up from one stack: topics, the build queue and its dead-letter
queue, the builder with its role, ECR repositories, the log group, the Lambda failure queue.

moto creates the resources it supports; what it does not apply (topic and queue policies, the
SNS -> SQS subscription, ECR lifecycle policies, launch-template metadata options on the
instance) is asserted from the template itself."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import boto3

from tests.infra.infra_stacks import (
    AGENT_URL,
    PIPELINE_TEMPLATE,
    REPO,
    SOURCE_ACCOUNT,
    PipelineStack,
    load_template,
    resources,
    resources_of_type,
    role_policy,
    statement,
)

ACCOUNT = "123456789012"  # moto's account


def test_queue_redrives_to_a_dead_letter_queue_and_keeps_requests_for_days(aws: boto3.Session,
                                                                        pipeline_stack: PipelineStack) -> None:
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=pipeline_stack.outputs["BuildQueueUrl"],
                                     AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=pipeline_stack.outputs["BuildDeadLetterQueueUrl"],
                                   AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": 10}
    assert attrs["VisibilityTimeout"] == "900" == pipeline_stack.outputs["AgentVisibilityTimeoutSeconds"]
    assert int(attrs["MessageRetentionPeriod"]) == 4 * 24 * 3600
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
    assert attrs["SqsManagedSseEnabled"] == "true"


def test_requests_travel_fifo_grouped_by_pipeline_without_content_deduplication(aws: boto3.Session,
                                                                                 pipeline_stack: PipelineStack) -> None:
    """Topic, queue and dead-letter queue are FIFO (a FIFO queue's DLQ must be); deduplication only by the id the
    publisher derives from the push, never by content (two pushes may look alike; a letter's copy must stay)."""
    out = pipeline_stack.outputs
    assert out["RequestTopicArn"].endswith(":pushdeploy-pipeline-request.fifo")
    topic = aws.client("sns").get_topic_attributes(TopicArn=out["RequestTopicArn"])["Attributes"]
    assert topic["FifoTopic"] == "true" and topic["ContentBasedDeduplication"] == "false"
    sqs = aws.client("sqs")
    for url, name in ((out["BuildQueueUrl"], "pushdeploy-pipeline-build.fifo"),
                      (out["BuildDeadLetterQueueUrl"], "pushdeploy-pipeline-build-dlq.fifo")):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"].endswith(f":{name}")
        assert (attrs["FifoQueue"], attrs["ContentBasedDeduplication"]) == ("true", "false"), name
    template = load_template(PIPELINE_TEMPLATE)["Resources"]
    assert template["RequestTopic"]["Properties"]["FifoTopic"] is True
    assert template["RequestTopic"]["Properties"]["ContentBasedDeduplication"] is False


def test_the_wake_queue_is_standard_and_redrives_to_the_lambda_failure_queue(aws: boto3.Session,
                                                                            pipeline_stack: PipelineStack) -> None:
    """build_start's event source: a standard queue (Lambda reads it; SNS FIFO delivers to it), retried by SQS."""
    out = pipeline_stack.outputs
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=out["WakeQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == out["WakeQueueArn"]
    assert out["WakeQueueArn"].endswith(":pushdeploy-pipeline-wake")
    assert attrs.get("FifoQueue", "false") == "false"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": out["LambdaFailureQueueArn"],
                                                  "maxReceiveCount": 5}
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    prod = config["stages"]["prod"]
    timeout = prod.get("lambda_functions", {}).get("build_start", {}).get(
        "lambda_timeout", prod.get("lambda_timeout", config.get("lambda_timeout", 60)))  # chalice's default: 60
    assert int(attrs["VisibilityTimeout"]) >= timeout, "Lambda refuses a queue whose visibility is under the timeout"
    assert attrs["SqsManagedSseEnabled"] == "true"


def test_only_the_request_topic_may_send_to_the_build_and_wake_queues() -> None:
    template = load_template(PIPELINE_TEMPLATE)
    policies = {p["Properties"]["Queues"][0]["Ref"]: p["Properties"]
                for p in resources_of_type(template, "AWS::SQS::QueuePolicy").values()}
    assert set(policies) == {"BuildQueue", "WakeQueue"}
    for queue, policy in policies.items():
        assert policy["Queues"] == [{"Ref": queue}]
        (stmt,) = policy["PolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Service": "sns.amazonaws.com"}
        assert stmt["Action"] == "sqs:SendMessage"
        assert stmt["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "RequestTopic"}}}
    subscriptions = {s["Properties"]["Endpoint"]["Fn::GetAtt"][0]: s["Properties"]
                     for s in resources_of_type(template, "AWS::SNS::Subscription").values()}
    assert set(subscriptions) == {"BuildQueue", "WakeQueue"}
    for subscription in subscriptions.values():
        assert subscription["TopicArn"] == {"Ref": "RequestTopic"}
        assert subscription["Protocol"] == "sqs"
        assert subscription["RawMessageDelivery"] is False, "both readers unwrap the SNS envelope"


def test_only_the_source_accounts_request_roles_may_publish_requests() -> None:
    template = load_template(PIPELINE_TEMPLATE)
    (policy,) = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "RequestTopic"}]
    (stmt,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert stmt["Action"] == "sns:Publish" and stmt["Resource"] == {"Ref": "RequestTopic"}
    assert stmt["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${SourceAccountId}:root"}}
    assert stmt["Condition"]["StringEquals"] == {"aws:PrincipalAccount": {"Ref": "SourceAccountId"}}
    role_arns = stmt["Condition"]["ArnLike"]["aws:PrincipalArn"]
    # CloudFormation evaluates this Split/Sub/Join to one role ARN pattern per name: do the same here
    names = template["Parameters"]["RequestRoleNames"]["Default"]
    sub, variables = role_arns["Fn::Split"][1]["Fn::Sub"]
    join = variables["Names"]["Fn::Join"]
    joined = join[0].join(names.split(","))
    evaluated = sub.replace("${Names}", joined).split(role_arns["Fn::Split"][0])
    assert evaluated == ["arn:*:iam::*:role/pushdeploy-dev-request", "arn:*:iam::*:role/pushdeploy-dev-request_events"]


def test_topics_log_group_and_failure_queue_exist(aws: boto3.Session, pipeline_stack: PipelineStack) -> None:
    topics = {t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]}
    assert {pipeline_stack.outputs["RequestTopicArn"], pipeline_stack.outputs["CloseTopicArn"]} <= topics
    (group,) = aws.client("logs").describe_log_groups(logGroupNamePrefix="/pushdeploy/builds")["logGroups"]
    assert group["logGroupName"] == pipeline_stack.outputs["BuildLogGroupName"]
    assert group["retentionInDays"] == 30
    failures = aws.client("sqs").get_queue_attributes(QueueUrl=pipeline_stack.outputs["LambdaFailureQueueUrl"],
                                                      AttributeNames=["QueueArn"])["Attributes"]
    assert failures["QueueArn"] == pipeline_stack.outputs["LambdaFailureQueueArn"]


def test_ecr_repositories_are_created_with_a_lifecycle_policy(aws: boto3.Session,
                                                              pipeline_stack: PipelineStack) -> None:
    names = {r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]}
    assert names == {"production/sample", "production/api"}
    template = load_template(PIPELINE_TEMPLATE)
    repos = resources_of_type(template, "AWS::ECR::Repository")
    assert len(repos) == 4
    for repo in repos.values():
        text = repo["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
        rules = json.loads(text.replace("${KeepImages}", "30"))["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
        assert all(r["action"] == {"type": "expire"} for r in rules)
        assert repo["Properties"]["EmptyOnDelete"] is True


def test_list_parameters_accept_one_to_four_names_and_reject_more() -> None:
    params = load_template(PIPELINE_TEMPLATE)["Parameters"]
    for name in ("EcrRepositories", "EcsServiceNames"):
        pattern = re.compile(params[name]["AllowedPattern"])
        assert pattern.match("a")
        assert pattern.match("a,b,c,d")
        assert not pattern.match("a,b,c,d,e"), f"{name} accepts a fifth name the template would ignore"
        assert not pattern.match("")
    assert re.compile(params["PassRoleNames"]["AllowedPattern"]).match("")


def test_builder_is_tagged_runs_the_public_ami_and_installs_the_agent(aws: boto3.Session,
                                                                     pipeline_stack: PipelineStack) -> None:
    ec2 = aws.client("ec2")
    (reservation,) = ec2.describe_instances(InstanceIds=[pipeline_stack.outputs["BuilderInstanceId"]])["Reservations"]
    (instance,) = reservation["Instances"]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    key, value = pipeline_stack.outputs["BuilderTag"].split("=")
    assert tags[key] == value == "builder"
    ami = aws.client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    assert instance["ImageId"] == ami
    assert instance["SubnetId"] == pipeline_stack.params["SubnetId"]
    assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/pushdeploy-pipeline-builder")
    profile = aws.client("iam").get_instance_profile(InstanceProfileName="pushdeploy-pipeline-builder")
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == ["pushdeploy-pipeline-builder"]
    user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    script = base64.b64decode(user_data["UserData"]["Value"]).decode()
    for step in (AGENT_URL, "/opt/pushdeploy/src/agent/install.sh",
                 "PUSHDEPLOY_SETTINGS_PARAMETER=/pushdeploy/agent.toml",
                 "ExecStartPre=+/usr/local/sbin/pushdeploy-fetch-settings",
                 f"role_arn = arn:aws:iam::{SOURCE_ACCOUNT}:role/pushdeploy-gitpull"):
        assert step in script
    env_file = script.split("/etc/pushdeploy/agent.env <<'CONF'\n", 1)[1].split("\nCONF\n", 1)[0]
    assert env_file.splitlines() == [f"PUSHDEPLOY_CLOSE_TOPIC_ARN={pipeline_stack.outputs['CloseTopicArn']}",
                                     "AWS_DEFAULT_REGION=us-east-1"]  # what the stop hook needs without settings
    before_install = script.rsplit("agent/install.sh", 1)[0]
    assert "trap 'shutdown -h now' EXIT" in before_install, "stops itself even when the install fails"
    syntax = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    fetch = script.split("pushdeploy-fetch-settings <<'CONF'\n", 1)[1].split("\nCONF\n", 1)[0]
    assert fetch.startswith("#!/bin/bash\n") and "--name \"$PUSHDEPLOY_SETTINGS_PARAMETER\"" in fetch
    syntax = subprocess.run(["bash", "-n"], input=fetch, capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr


def test_builder_requires_imdsv2_with_a_hop_limit_of_one(aws: boto3.Session, pipeline_stack: PipelineStack) -> None:
    ec2 = aws.client("ec2")
    (template_,) = ec2.describe_launch_templates()["LaunchTemplates"]
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=template_["LaunchTemplateId"])[
        "LaunchTemplateVersions"]
    options = version["LaunchTemplateData"]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert options["HttpPutResponseHopLimit"] == 1
    # moto does not apply a launch template to an instance: check that the instance uses it
    instance = load_template(PIPELINE_TEMPLATE)["Resources"]["BuilderInstance"]["Properties"]
    assert instance["LaunchTemplate"]["LaunchTemplateId"] == {"Ref": "BuilderLaunchTemplate"}


def test_builder_role_is_scoped_to_the_named_resources(aws: boto3.Session, pipeline_stack: PipelineStack) -> None:
    iam = aws.client("iam")
    trust = iam.get_role(RoleName="pushdeploy-pipeline-builder")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    policy = role_policy(iam, "pushdeploy-pipeline-builder", "pushdeploy-builder")
    out = pipeline_stack.outputs
    region = "us-east-1"
    assert resources(statement(policy, "BuildQueue")) == [out["BuildQueueArn"]]
    assert set(statement(policy, "BuildQueue")["Action"]) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
    dlq_arn = aws.client("sqs").get_queue_attributes(QueueUrl=out["BuildDeadLetterQueueUrl"],
                                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert resources(statement(policy, "DeadLetterTheRequestsItRejects")) == [dlq_arn]
    assert set(statement(policy, "DeadLetterTheRequestsItRejects")["Action"]) == {"sqs:SendMessage", "sqs:GetQueueUrl"}
    tagging = statement(policy, "HeartbeatTagOnItsOwnInstanceOnly")
    assert tagging["Action"] == "ec2:CreateTags"
    assert resources(tagging) == [f"arn:aws:ec2:{region}:{ACCOUNT}:instance/*"]
    assert tagging["Condition"] == {"StringEquals": {"aws:ARN": "${ec2:SourceInstanceARN}"},
                                    "ForAllValues:StringEquals": {"aws:TagKeys": ["pushdeploy:agent"]}}
    assert resources(statement(policy, "RegisterTaskDefinitionRevisions")) == [
        f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/*"]
    assert resources(statement(policy, "CloseTopic")) == [out["CloseTopicArn"]]
    assert resources(statement(policy, "BuildLogs")) == [
        f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/pushdeploy/builds:*"]
    assert resources(statement(policy, "OwnSettings")) == [
        f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/pushdeploy/agent.toml"]
    assert resources(statement(policy, "EcrPushToTheNamedRepositories")) == [
        f"arn:aws:ecr:{region}:{ACCOUNT}:repository/production/sample",
        f"arn:aws:ecr:{region}:{ACCOUNT}:repository/production/api"]
    assert resources(statement(policy, "UpdateTheNamedServices")) == [
        f"arn:aws:ecs:{region}:{ACCOUNT}:service/production-cluster/web",
        f"arn:aws:ecs:{region}:{ACCOUNT}:service/production-cluster/worker"]
    assert statement(policy, "UpdateTheNamedServices")["Action"] == "ecs:UpdateService"
    assert resources(statement(policy, "DescribeTheNamedServices")) == [
        f"arn:aws:ecs:{region}:{ACCOUNT}:service/production-cluster/web",
        f"arn:aws:ecs:{region}:{ACCOUNT}:service/production-cluster/worker"]
    assert statement(policy, "DescribeTheNamedServices")["Action"] == "ecs:DescribeServices"
    # read-only, for revision pruning only: a revision any service of any cluster runs is never deregistered
    assert resources(statement(policy, "ReadEveryServiceToProtectRevisionsInUse")) == [
        f"arn:aws:ecs:{region}:{ACCOUNT}:service/*"]
    assert statement(policy, "ReadEveryServiceToProtectRevisionsInUse")["Action"] == "ecs:DescribeServices"
    pass_role = statement(policy, "PassOnlyTheTaskRolesOnlyToEcsTasks")
    assert resources(pass_role) == [f"arn:aws:iam::{ACCOUNT}:role/sample-task",
                                    f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert resources(statement(policy, "PullFromCodeCommitThroughTheSourceAccountsRole")) == [
        f"arn:aws:iam::{SOURCE_ACCOUNT}:role/pushdeploy-gitpull"]
    assert resources(statement(policy, "ReadTheAgentSourceObject")) == [
        "arn:aws:s3:::pushdeploy-artifacts/pushdeploy-0.1.0.tar.gz"]


def test_an_https_agent_source_grants_no_s3_read_and_no_pass_role_without_roles(aws: boto3.Session) -> None:
    from tests.infra.infra_stacks import deploy_pipeline

    deploy_pipeline(aws, "plain", AgentSourceUrl="https://example.com/pushdeploy.tar.gz", PassRoleNames="",
                    EcrRepositories="solo", EcsServiceNames="web")
    policy = role_policy(aws.client("iam"), "plain-builder", "pushdeploy-builder")
    sids = {s["Sid"] for s in policy["Statement"] if isinstance(s, dict)}
    assert "ReadTheAgentSourceObject" not in sids
    assert "PassOnlyTheTaskRolesOnlyToEcsTasks" not in sids
    assert resources(statement(policy, "EcrPushToTheNamedRepositories")) == [
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/solo"]
    names = {r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]}
    assert names == {"solo"}
