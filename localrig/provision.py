"""Create the pipeline account's resources, the same set the real setup creates.

Two provisioners return the same outputs dict, whose keys are the Lambda stage setting names
(REQUEST_TOPIC_ARN, BUILD_QUEUE_URL, BUILDER_INSTANCE_IDS, WAKE_QUEUE_ARN, ...) plus what the agent's settings
and the rig need (LOG_GROUP, REGION, BUILD_DLQ_URL, WAKE_QUEUE_URL, BUILDER_INSTANCE_ID = the first builder), so the
rest of the rig never learns which one ran. Both make the request path FIFO (topic, build queue, dead-letter queue),
the standard wake queue subscribed to the topic (build_start's event source), and a pool of ``builders`` instances:

- ``provision_from_stack`` deploys ``infra/pipeline.yaml``, the template a real setup deploys,
  into moto, and reads the stack's outputs (the rig's default);
- ``provision`` makes the same resources with plain API calls (``--provision api``), for when
  the template cannot be used.

What neither template nor moto provides is done with API calls in both: the application's ECS
cluster, task definition and service (the user's own, not the pipeline stack's), the SecureStrings
the user creates (the Slack URL, and one webhook secret per git host: random, returned as outputs),
the SNS -> SQS subscriptions and the queue policies of the build and wake queues (moto applies neither
``AWS::SNS::Subscription`` nor ``AWS::SQS::QueuePolicy``), the deliveries table's TTL (moto ignores
``TimeToLiveSpecification``) and stopping the builders (their user data does that on AWS). The builders' launch
template is applied by moto itself once ``localrig.aws.launch_templates`` is installed (the rig's moto server does).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ClientFactory = Callable[[str], Any]  # service name -> boto3 client (session.client, or one bound to moto)

PIPELINE_TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "pipeline.yaml"
PROVISIONERS = ("cloudformation", "api")
BUILDER_TAG_KEY = "pushdeploy:role"
BUILDER_TAG_VALUE = "builder"
MAX_STACK_BUILDERS = 4  # the template's BuilderCount
WAKE_VISIBILITY_SECONDS = 120  # the template's WakeQueue: a failed build_start is retried two minutes later


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline the rig serves: where its code lives and what it deploys to."""

    repository: str
    branch: str = "production"
    image_repository: str = "production/sample"
    cluster: str = "production-cluster"
    service: str = "web"
    family: str = "production-task"
    container: str = "web"

    @property
    def key(self) -> str:
        return f"{self.repository}/{self.branch}"


@dataclass(frozen=True)
class AccountSpec:
    """Names of the shared resources (one set per pipeline account)."""

    prefix: str = "pushdeploy"
    webhook_parameter: str = "/pushdeploy/slack-webhook-url"
    log_group: str = "/pushdeploy/builds"
    max_receive_count: int = 10  # the build queue's, as infra/pipeline.yaml sets it
    wake_max_receive_count: int = 5
    webhook_secret_prefix: str = "/pushdeploy/webhooks"


WEBHOOK_PROVIDERS = ("github", "gitlab", "bitbucket")
# outputs key of each provider's webhook secret (the rig's own random value; tests and `localrig up` sign with it)
WEBHOOK_SECRET_OUTPUTS = {provider: f"WEBHOOK_SECRET_{provider.upper()}" for provider in WEBHOOK_PROVIDERS}


class ProvisionError(RuntimeError):
    """A resource could not be created; the message names it."""


def provision(client: ClientFactory, pipelines: list[PipelineSpec], webhook_url: str,
              initial_image: dict[str, str], account: AccountSpec | None = None, builders: int = 1) -> dict[str, str]:
    """Create every resource; ``initial_image`` maps pipeline key -> the image revision 1 runs; ``builders``
    instances make the pool."""
    account = account or AccountSpec()
    if builders < 1:
        raise ProvisionError(f"a pool has at least one builder, got {builders}")
    outputs: dict[str, str] = {"REGION": client("sqs").meta.region_name}
    outputs.update(_messaging(client, account))
    outputs.update(_builders(client, account, builders))
    outputs["SLACK_WEBHOOK_PARAMETER"] = _webhook_parameter(client, account, webhook_url)
    outputs["LOG_GROUP"] = _log_group(client, account)
    outputs["WEBHOOK_DELIVERIES_TABLE"] = _deliveries_table(client, account)
    outputs["BUILD_HISTORY_TABLE"] = create_history_table(client, account)
    outputs.update(_webhook_secrets(client, account))
    for spec in pipelines:
        _container_side(client, spec, initial_image[spec.key])
    return outputs


FIFO = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}  # dedup only by the publisher's id


def _messaging(client: ClientFactory, account: AccountSpec) -> dict[str, str]:
    """FIFO request topic -> FIFO build queue (with a FIFO dead-letter queue) and the standard wake queue (with
    the Lambda failure queue as its dead-letter queue); the close topic."""
    sns = client("sns")
    sqs = client("sqs")
    request_topic = sns.create_topic(Name=f"{account.prefix}-request.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "false"})["TopicArn"]
    close_topic = sns.create_topic(Name=f"{account.prefix}-close")["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=f"{account.prefix}-build-dlq.fifo",
                               Attributes={**FIFO, "MessageRetentionPeriod": str(14 * 86400)})["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=f"{account.prefix}-build.fifo", Attributes={
        **FIFO,
        "VisibilityTimeout": "300",
        "MessageRetentionPeriod": str(4 * 86400),
        "RedrivePolicy": json.dumps(_redrive(sqs, dlq_url, account.max_receive_count)),
    })["QueueUrl"]
    failures_url = sqs.create_queue(QueueName=f"{account.prefix}-lambda-failures",
                                    Attributes={"MessageRetentionPeriod": str(14 * 86400)})["QueueUrl"]
    wake_url = sqs.create_queue(QueueName=f"{account.prefix}-wake", Attributes={
        "VisibilityTimeout": str(WAKE_VISIBILITY_SECONDS),
        "MessageRetentionPeriod": "86400",
        "RedrivePolicy": json.dumps(_redrive(sqs, failures_url, account.wake_max_receive_count)),
    })["QueueUrl"]
    subscribe_queues(client, request_topic, [queue_url, wake_url])
    return {"REQUEST_TOPIC_ARN": request_topic, "CLOSE_TOPIC_ARN": close_topic,
            "BUILD_QUEUE_URL": queue_url, "BUILD_DLQ_URL": dlq_url, "DEAD_LETTER_QUEUE_URL": dlq_url,
            "WAKE_QUEUE_URL": wake_url, "WAKE_QUEUE_ARN": _queue_arn(sqs, wake_url)}


def _redrive(sqs: Any, dead_letter_url: str, max_receive_count: int) -> dict[str, str]:
    return {"deadLetterTargetArn": _queue_arn(sqs, dead_letter_url), "maxReceiveCount": str(max_receive_count)}


def subscribe_queues(client: ClientFactory, topic_arn: str, queue_urls: list[str]) -> None:
    """What the template's subscriptions and queue policies do: each queue gets the topic's messages in their
    SNS envelope (raw delivery off), and only that topic may send to it."""
    sqs = client("sqs")
    for url in queue_urls:
        arn = _queue_arn(sqs, url)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(_queue_policy(arn, topic_arn))})
        client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """Only the request topic may send (the seed allowed everybody every SQS action)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }]}


def _builders(client: ClientFactory, account: AccountSpec, count: int) -> dict[str, str]:
    """The pool: ``count`` instances of one launch template, each tagged as a builder and named as the template
    names them, left stopped as their user data would."""
    ec2 = client("ec2")
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(LaunchTemplateName=f"{account.prefix}-builder", LaunchTemplateData={
        "ImageId": image_id, "InstanceType": "t3.small", "InstanceInitiatedShutdownBehavior": "stop",
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}})["LaunchTemplate"]
    ids = []
    for number in range(1, count + 1):
        name = f"{account.prefix}-builder" + ("" if number == 1 else f"-{number}")
        tags = [{"Key": BUILDER_TAG_KEY, "Value": BUILDER_TAG_VALUE}, {"Key": "Name", "Value": name}]
        reservation = ec2.run_instances(
            MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 1})  # moto: not from the template
        ids.append(reservation["Instances"][0]["InstanceId"])
    ec2.stop_instances(InstanceIds=ids)
    return {"BUILDER_INSTANCE_IDS": ",".join(ids), "BUILDER_INSTANCE_ID": ids[0],
            "BUILDER_TAG": f"{BUILDER_TAG_KEY}={BUILDER_TAG_VALUE}"}


def _webhook_parameter(client: ClientFactory, account: AccountSpec, webhook_url: str) -> str:
    client("ssm").put_parameter(Name=account.webhook_parameter, Value=webhook_url,
                                        Type="SecureString", Overwrite=True)
    return account.webhook_parameter


def _deliveries_table(client: ClientFactory, account: AccountSpec) -> str:
    """The webhook routes' delivery ledger, as infra/pipeline.yaml makes it."""
    name = f"{account.prefix}-webhook-deliveries"
    dynamodb = client("dynamodb")
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "delivery_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "delivery_id", "AttributeType": "S"}])
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                                           "AttributeName": "expires_at"})
    return name


def create_history_table(client: ClientFactory, account: AccountSpec) -> str:
    """The build history table, with the keys and indexes infra/pipeline.yaml gives it (BuildHistoryTable)."""
    name = f"{account.prefix}-build-history"
    dynamodb = client("dynamodb")
    everything = {"ProjectionType": "ALL"}
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("pipeline", "sort_key", "build_id", "feed")],
        KeySchema=[{"AttributeName": "pipeline", "KeyType": "HASH"}, {"AttributeName": "sort_key", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_build_id", "KeySchema": [{"AttributeName": "build_id", "KeyType": "HASH"}],
             "Projection": everything},
            {"IndexName": "recent", "KeySchema": [{"AttributeName": "feed", "KeyType": "HASH"},
                                                  {"AttributeName": "sort_key", "KeyType": "RANGE"}],
             "Projection": everything}])
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                                           "AttributeName": "expires_at"})
    return name


def _webhook_secrets(client: ClientFactory, account: AccountSpec) -> dict[str, str]:
    """A fresh random secret per git host, as SecureStrings where the routes read them; returned as outputs
    (WEBHOOK_SECRET_GITHUB, ...) with the prefix, so whoever sends the rig a webhook can sign it."""
    found = {"WEBHOOK_SECRET_PREFIX": account.webhook_secret_prefix}
    for provider, key in WEBHOOK_SECRET_OUTPUTS.items():
        value = secrets.token_hex(20)
        client("ssm").put_parameter(Name=f"{account.webhook_secret_prefix}/{provider}", Value=value,
                                    Type="SecureString", Overwrite=True)
        found[key] = value
    return found


def _log_group(client: ClientFactory, account: AccountSpec) -> str:
    logs = client("logs")
    logs.create_log_group(logGroupName=account.log_group)
    logs.put_retention_policy(logGroupName=account.log_group, retentionInDays=30)
    return account.log_group


def _container_side(client: ClientFactory, spec: PipelineSpec, image: str) -> None:
    """ECR repository, cluster, task definition revision 1 and the service running it."""
    ecr = client("ecr")
    ecs = client("ecs")
    try:
        ecr.create_repository(repositoryName=spec.image_repository)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    ecs.create_cluster(clusterName=spec.cluster)
    task = ecs.register_task_definition(
        family=spec.family,
        containerDefinitions=[{"name": spec.container, "image": image, "memory": 64, "essential": True,
                               "portMappings": [{"containerPort": 8080}]}],
        tags=[{"key": "pipeline", "value": spec.key}],
    )["taskDefinition"]
    ecs.create_service(cluster=spec.cluster, serviceName=spec.service,
                       taskDefinition=task["taskDefinitionArn"], desiredCount=1)


def provision_from_stack(client: ClientFactory, pipelines: list[PipelineSpec], webhook_url: str,
                         initial_image: dict[str, str], account: AccountSpec | None = None,
                         template: Path = PIPELINE_TEMPLATE, builders: int = 1) -> dict[str, str]:
    """Deploy the pipeline-account template into moto (``BuilderCount=builders``); return the same outputs as
    ``provision``."""
    from infra import StackError
    from infra.stacks import create_stack
    from infra.stage_settings import ENV_FROM_OUTPUTS

    account = account or AccountSpec()
    clusters = {spec.cluster for spec in pipelines}
    if len(clusters) != 1:
        raise ProvisionError(f"the pipeline template serves one ECS cluster; the pipelines name {sorted(clusters)}")
    if not 1 <= builders <= MAX_STACK_BUILDERS:
        raise ProvisionError(f"the pipeline template makes 1 to {MAX_STACK_BUILDERS} builders (BuilderCount), "
                             f"not {builders}; use the api provisioner for more")
    parameters = {
        "SourceAccountId": _account_id(client),
        "EcrRepositories": ",".join(sorted({spec.image_repository for spec in pipelines})),
        "EcsClusterName": clusters.pop(),
        "EcsServiceNames": ",".join(sorted({spec.service for spec in pipelines})),
        "WebhookParameterName": account.webhook_parameter,
        "WebhookSecretPrefix": account.webhook_secret_prefix,
        "BuildLogGroupName": account.log_group,
        "AgentSourceUrl": "https://pushdeploy.invalid/local-rig.tar.gz",  # user data never runs in moto
        "BuilderCount": str(builders),
        **_network(client),
    }
    try:
        stack = create_stack(client("cloudformation"), account.prefix, template, parameters)
    except StackError as exc:
        raise ProvisionError(f"{template.name}: {exc}") from exc
    # the agent settings parameter is the operator's (infra record uploads it), and so is the dashboard token
    # (the rig's local stage reads without one); the API-made rig has neither
    outputs = {name: stack.get(key) for name, key in ENV_FROM_OUTPUTS["pipeline"].items()
               if name not in ("AGENT_SETTINGS_PARAMETER", "DASHBOARD_TOKEN_PARAMETER")}
    outputs.update(REGION=stack.get("Region"), LOG_GROUP=stack.get("BuildLogGroupName"),
                   BUILD_DLQ_URL=stack.get("BuildDeadLetterQueueUrl"), WAKE_QUEUE_URL=stack.get("WakeQueueUrl"),
                   BUILDER_INSTANCE_ID=stack.get("BuilderInstanceId"))
    # moto applies neither AWS::SNS::Subscription nor AWS::SQS::QueuePolicy: make the template's own
    # subscriptions (SNS envelope kept) and queue policies (only the request topic sends) by API.
    subscribe_queues(client, stack.get("RequestTopicArn"), [stack.get("BuildQueueUrl"), stack.get("WakeQueueUrl")])
    client("ec2").stop_instances(InstanceIds=outputs["BUILDER_INSTANCE_IDS"].split(","))
    # moto ignores the table's TimeToLiveSpecification: turn it on as the template does
    for table in (outputs["WEBHOOK_DELIVERIES_TABLE"], outputs["BUILD_HISTORY_TABLE"]):
        client("dynamodb").update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires_at"})
    _webhook_parameter(client, account, webhook_url)
    outputs.update(_webhook_secrets(client, account))  # the stack names the prefix; the secrets are the user's
    for spec in pipelines:
        _container_side(client, spec, initial_image[spec.key])
    return outputs


def _account_id(client: ClientFactory) -> str:
    return client("sts").get_caller_identity()["Account"]


def _network(client: ClientFactory) -> dict[str, str]:
    """A VPC and subnet for the builder, and an SSM parameter naming its AMI (the template takes one)."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    client("ssm").put_parameter(Name="/pushdeploy/local-rig/builder-ami", Value=image_id, Type="String",
                                Overwrite=True)
    return {"VpcId": vpc, "SubnetId": subnet, "BuilderAmi": "/pushdeploy/local-rig/builder-ami"}


def provision_with(provisioner: str) -> Callable[..., dict[str, str]]:
    """The provisioning function by name (``cloudformation`` or ``api``)."""
    if provisioner == "cloudformation":
        return provision_from_stack
    if provisioner == "api":
        return provision
    raise ProvisionError(f"unknown provisioner {provisioner!r}; expected one of {', '.join(PROVISIONERS)}")


def lambda_environment(outputs: dict[str, str], pipelines: list[PipelineSpec],
                       functions: str = "all") -> dict[str, str]:
    """The stage environment the Chalice functions get (the one-account ``all`` stage; the webhook routes
    read BRANCH_FILTER too, so a hosted repository's pipeline builds from its webhook). The reconcile's
    thresholds (BUILDER_IDLE_MINUTES, STALE_REQUEST_MINUTES) keep their defaults, as a stage that does not set them."""
    branch_filter: dict[str, list[str]] = {}
    for spec in pipelines:
        branch_filter.setdefault(spec.repository, []).append(spec.branch)
    names = ("REQUEST_TOPIC_ARN", "BUILDER_INSTANCE_IDS", "BUILDER_TAG", "BUILD_QUEUE_URL", "CLOSE_TOPIC_ARN",
             "SLACK_WEBHOOK_PARAMETER", "DEAD_LETTER_QUEUE_URL", "WEBHOOK_DELIVERIES_TABLE", "WEBHOOK_SECRET_PREFIX",
             "BUILD_HISTORY_TABLE", "WAKE_QUEUE_ARN")
    env = {name: outputs[name] for name in names}
    env.update(PUSHDEPLOY_FUNCTIONS=functions, BRANCH_FILTER=json.dumps(branch_filter),
               NOTIFY_TIMEOUT_SECONDS="5")
    return env
