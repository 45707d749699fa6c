"""The rig provisions the pipeline account the way the real setup does, on moto: from the
pipeline template (CloudFormation) or with the same resources made by API calls. Both give the
same outputs, so every test here runs against both."""

import json

import pytest

from chalicelib import settings
from localrig.provision import (
    PROVISIONERS,
    WEBHOOK_SECRET_OUTPUTS,
    PipelineSpec,
    ProvisionError,
    lambda_environment,
    provision_with,
)

SPEC = PipelineSpec(repository="sample")
LAMBDA_SETTINGS = {"PUSHDEPLOY_FUNCTIONS", "REQUEST_TOPIC_ARN", "BRANCH_FILTER", "BUILDER_INSTANCE_IDS", "BUILDER_TAG",
                   "BUILD_QUEUE_URL", "CLOSE_TOPIC_ARN", "SLACK_WEBHOOK_PARAMETER", "NOTIFY_TIMEOUT_SECONDS",
                   "DEAD_LETTER_QUEUE_URL", "WEBHOOK_DELIVERIES_TABLE", "WEBHOOK_SECRET_PREFIX", "BUILD_HISTORY_TABLE",
                   "WAKE_QUEUE_ARN"}


OUTPUT_KEYS = {"REGION", "REQUEST_TOPIC_ARN", "CLOSE_TOPIC_ARN", "BUILD_QUEUE_URL", "BUILD_DLQ_URL",
               "BUILDER_INSTANCE_ID", "BUILDER_INSTANCE_IDS", "BUILDER_TAG", "SLACK_WEBHOOK_PARAMETER", "LOG_GROUP",
               "DEAD_LETTER_QUEUE_URL", "WEBHOOK_DELIVERIES_TABLE", "WEBHOOK_SECRET_PREFIX", "BUILD_HISTORY_TABLE",
               "WAKE_QUEUE_URL", "WAKE_QUEUE_ARN", *WEBHOOK_SECRET_OUTPUTS.values()}


@pytest.fixture(params=PROVISIONERS)
def outputs(aws, request):
    make = provision_with(request.param)
    return make(aws.client, [SPEC], "http://127.0.0.1:1/hook", {SPEC.key: "127.0.0.1:5000/production/sample:v0"})


def test_both_provisioners_return_the_same_outputs(outputs):
    assert set(outputs) == OUTPUT_KEYS


def test_an_unknown_provisioner_is_named():
    with pytest.raises(ProvisionError, match="terraform"):
        provision_with("terraform")


def _publish(aws, outputs, group: str, dedup: str, message: str) -> None:
    aws.client("sns").publish(TopicArn=outputs["REQUEST_TOPIC_ARN"], Message=message, MessageGroupId=group,
                              MessageDeduplicationId=dedup)


def test_a_build_request_published_to_the_request_topic_lands_in_the_build_queue_and_wakes(aws, outputs):
    """One FIFO publish reaches the build queue (with its group) and the wake queue, both in the SNS envelope."""
    _publish(aws, outputs, "sample/production", "d-1", "build")
    sqs = aws.client("sqs")
    got = sqs.receive_message(QueueUrl=outputs["BUILD_QUEUE_URL"], WaitTimeSeconds=1,
                              AttributeNames=["MessageGroupId"])["Messages"]
    assert json.loads(got[0]["Body"])["Message"] == "build"
    assert got[0]["Attributes"]["MessageGroupId"] == "sample/production"
    woke = sqs.receive_message(QueueUrl=outputs["WAKE_QUEUE_URL"], WaitTimeSeconds=1)["Messages"]
    assert json.loads(woke[0]["Body"])["Message"] == "build"


def test_the_request_path_is_fifo_and_a_pipeline_is_held_while_one_of_its_requests_is_in_flight(aws, outputs):
    assert outputs["REQUEST_TOPIC_ARN"].endswith(".fifo")
    sqs = aws.client("sqs")
    for url in (outputs["BUILD_QUEUE_URL"], outputs["BUILD_DLQ_URL"]):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (attrs["FifoQueue"], attrs["ContentBasedDeduplication"]) == ("true", "false")
    _publish(aws, outputs, "a/production", "a-1", "a1")
    _publish(aws, outputs, "a/production", "a-2", "a2")
    _publish(aws, outputs, "b/production", "b-1", "b1")
    first = sqs.receive_message(QueueUrl=outputs["BUILD_QUEUE_URL"], MaxNumberOfMessages=1)["Messages"]
    assert json.loads(first[0]["Body"])["Message"] == "a1"
    others = sqs.receive_message(QueueUrl=outputs["BUILD_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["Message"] for m in others] == ["b1"], "a2 waits while a1 is in flight"


def test_the_queues_redrive_and_only_the_request_topic_sends(aws, outputs):
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["BUILD_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=outputs["BUILD_DLQ_URL"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    wake = sqs.get_queue_attributes(QueueUrl=outputs["WAKE_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    assert wake["QueueArn"] == outputs["WAKE_QUEUE_ARN"] and wake.get("FifoQueue", "false") == "false"
    assert json.loads(wake["RedrivePolicy"])["deadLetterTargetArn"].endswith(":pushdeploy-lambda-failures")
    for queue in (attrs, wake):
        statement = json.loads(queue["Policy"])["Statement"][0]
        assert statement["Resource"] == queue["QueueArn"]
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == outputs["REQUEST_TOPIC_ARN"]


def test_the_builder_is_tagged_and_left_stopped(aws, outputs):
    assert outputs["BUILDER_INSTANCE_IDS"] == outputs["BUILDER_INSTANCE_ID"], "a pool of one by default"
    found = aws.client("ec2").describe_instances(InstanceIds=[outputs["BUILDER_INSTANCE_ID"]])["Reservations"]
    instance = found[0]["Instances"][0]
    assert instance["State"]["Name"] == "stopped"
    key, value = outputs["BUILDER_TAG"].split("=")
    assert {"Key": key, "Value": value} in instance["Tags"]


@pytest.mark.parametrize("provisioner", PROVISIONERS)
def test_a_pool_of_three_is_three_tagged_stopped_builders(aws, provisioner):
    make = provision_with(provisioner)
    outputs = make(aws.client, [SPEC], "http://127.0.0.1:1/hook", {SPEC.key: "127.0.0.1:5000/production/sample:v0"},
                   builders=3)
    ids = outputs["BUILDER_INSTANCE_IDS"].split(",")
    assert len(set(ids)) == 3 and ids[0] == outputs["BUILDER_INSTANCE_ID"]
    found = aws.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    instances = {i["InstanceId"]: i for r in found for i in r["Instances"]}
    key, value = outputs["BUILDER_TAG"].split("=")
    names = []
    for instance_id in ids:
        instance = instances[instance_id]
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert instance["State"]["Name"] == "stopped" and tags[key] == value
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        names.append(tags["Name"])
    assert names == ["pushdeploy-builder", "pushdeploy-builder-2", "pushdeploy-builder-3"]
    everything = aws.client("ec2").describe_instances(Filters=[{"Name": f"tag:{key}", "Values": [value]}])
    assert {i["InstanceId"] for r in everything["Reservations"] for i in r["Instances"]} == set(ids)
    assert lambda_environment(outputs, [SPEC])["BUILDER_INSTANCE_IDS"] == ",".join(ids)


def test_the_stack_makes_at_most_four_builders(aws):
    with pytest.raises(ProvisionError, match="1 to 4 builders"):
        provision_with("cloudformation")(aws.client, [SPEC], "http://127.0.0.1:1/hook",
                                         {SPEC.key: "127.0.0.1:5000/production/sample:v0"}, builders=5)


def test_the_history_table_has_the_template_s_keys_indexes_and_ttl(aws, outputs):
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=outputs["BUILD_HISTORY_TABLE"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pipeline", "KeyType": "HASH"},
                                  {"AttributeName": "sort_key", "KeyType": "RANGE"}]
    assert {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]} == {
        "by_build_id": ["build_id"], "recent": ["feed", "sort_key"]}
    ttl = dynamodb.describe_time_to_live(TableName=outputs["BUILD_HISTORY_TABLE"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_the_webhook_url_is_a_secure_string(aws, outputs):
    param = aws.client("ssm").get_parameter(Name=outputs["SLACK_WEBHOOK_PARAMETER"], WithDecryption=True)
    assert param["Parameter"]["Type"] == "SecureString"
    assert param["Parameter"]["Value"] == "http://127.0.0.1:1/hook"


def test_the_service_runs_revision_one_with_the_initial_image(aws, outputs):
    ecs = aws.client("ecs")
    service = ecs.describe_services(cluster=SPEC.cluster, services=[SPEC.service])["services"][0]
    assert service["desiredCount"] == 1
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert task["revision"] == 1
    assert task["containerDefinitions"][0]["image"] == "127.0.0.1:5000/production/sample:v0"
    assert aws.client("ecr").describe_repositories(repositoryNames=[SPEC.image_repository])["repositories"]
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=outputs["LOG_GROUP"])["logGroups"]
    assert [g["logGroupName"] for g in groups] == [outputs["LOG_GROUP"]]


def test_the_lambda_stage_environment_has_every_setting(outputs):
    env = lambda_environment(outputs, [SPEC, PipelineSpec(repository="other", image_repository="o")])
    assert set(env) == LAMBDA_SETTINGS
    assert env["PUSHDEPLOY_FUNCTIONS"] == "all"
    assert json.loads(env["BRANCH_FILTER"]) == {"sample": ["production"], "other": ["production"]}
    assert env["WAKE_QUEUE_ARN"] == outputs["WAKE_QUEUE_ARN"]
    loaded = settings.load_pipeline(env)  # every pipeline function (the reconcile too) starts with these
    assert loaded.dead_letter_queue_url == outputs["BUILD_DLQ_URL"]
    hooks = settings.load_webhooks(env)  # and the webhook routes
    assert hooks.deliveries_table == outputs["WEBHOOK_DELIVERIES_TABLE"]
    assert hooks.secret_prefix == "/pushdeploy/webhooks"


def test_each_git_host_has_its_own_random_webhook_secret_as_a_secure_string(aws, outputs):
    values = set()
    for provider, key in WEBHOOK_SECRET_OUTPUTS.items():
        name = f"{outputs['WEBHOOK_SECRET_PREFIX']}/{provider}"
        param = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
        assert (param["Type"], param["Value"]) == ("SecureString", outputs[key])
        assert len(outputs[key]) >= 32
        values.add(outputs[key])
    assert len(values) == 3


def test_the_deliveries_table_takes_conditional_puts_and_expires_records(aws, outputs):
    from chalicelib.webhooks.ledger import DeliveryLedger

    dynamodb = aws.client("dynamodb")
    ttl = dynamodb.describe_time_to_live(TableName=outputs["WEBHOOK_DELIVERIES_TABLE"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    ledger = DeliveryLedger(dynamodb, outputs["WEBHOOK_DELIVERIES_TABLE"])
    assert ledger.claim("github/d-1") and not ledger.claim("github/d-1")
