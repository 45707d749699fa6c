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
LAMBDA_SETTINGS = {"PUSHDEPLOY_FUNCTIONS", "REQUEST_TOPIC_ARN", "BRANCH_FILTER", "BUILDER_INSTANCE_ID", "BUILDER_TAG",
                   "BUILD_QUEUE_URL", "CLOSE_TOPIC_ARN", "SLACK_WEBHOOK_PARAMETER", "NOTIFY_TIMEOUT_SECONDS",
                   "DEAD_LETTER_QUEUE_URL", "WEBHOOK_DELIVERIES_TABLE", "WEBHOOK_SECRET_PREFIX", "BUILD_HISTORY_TABLE"}


OUTPUT_KEYS = {"REGION", "REQUEST_TOPIC_ARN", "CLOSE_TOPIC_ARN", "BUILD_QUEUE_URL", "BUILD_DLQ_URL",
               "BUILDER_INSTANCE_ID", "BUILDER_TAG", "SLACK_WEBHOOK_PARAMETER", "LOG_GROUP", "DEAD_LETTER_QUEUE_URL",
               "WEBHOOK_DELIVERIES_TABLE", "WEBHOOK_SECRET_PREFIX", "BUILD_HISTORY_TABLE",
               *WEBHOOK_SECRET_OUTPUTS.values()}


@pytest.fixture(params=PROVISIONERS)
def outputs(aws, request):
    make = provision_with(request.param)
    return make(aws.client, [SPEC], "http://127.0.0.1:1/hook", {SPEC.key: "127.0.0.1:5000/production/sample:v0"})


def test_both_provisioners_return_the_same_outputs(outputs):
    assert set(outputs) == OUTPUT_KEYS


def test_an_unknown_provisioner_is_named():
    with pytest.raises(ProvisionError, match="terraform"):
        provision_with("terraform")


def test_a_build_request_published_to_the_request_topic_lands_in_the_build_queue(aws, outputs):
    aws.client("sns").publish(TopicArn=outputs["REQUEST_TOPIC_ARN"], Message="build")
    got = aws.client("sqs").receive_message(QueueUrl=outputs["BUILD_QUEUE_URL"], WaitTimeSeconds=1)["Messages"]
    assert json.loads(got[0]["Body"])["Message"] == "build"


def test_the_build_queue_redrives_to_its_dead_letter_queue(aws, outputs):
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["BUILD_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=outputs["BUILD_DLQ_URL"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    statement = json.loads(attrs["Policy"])["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == outputs["REQUEST_TOPIC_ARN"]


def test_the_builder_is_tagged_and_left_stopped(aws, outputs):
    found = aws.client("ec2").describe_instances(InstanceIds=[outputs["BUILDER_INSTANCE_ID"]])["Reservations"]
    instance = found[0]["Instances"][0]
    assert instance["State"]["Name"] == "stopped"
    key, value = outputs["BUILDER_TAG"].split("=")
    assert {"Key": key, "Value": value} in instance["Tags"]


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
