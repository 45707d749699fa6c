"""From one recorded botocore call to the IAM requests AWS would authorize for it.

Why a table: the IAM action is not always the operation's name (``DeleteMessageBatch`` is authorized as
``sqs:DeleteMessage``, ``GetMetricStatistics`` as ``cloudwatch:GetMetricStatistics`` under the endpoint prefix
``monitoring``), the resource is an ARN the call only implies (a queue URL, instance ids, a cluster and a
service name), some calls are several requests (``StopInstances`` on two instances; ``RegisterTaskDefinition``
with a task role is also ``iam:PassRole``), and conditions need keys from the request or from the resource
(tags). Each entry follows the Service Authorization Reference (parliament's offline copy: the tests check the
table against it): ``*`` only where it documents no required resource type.
An operation missing from the table is an error naming it: a silent guess would hide a missing permission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from localrig.iam.iam_eval import ContextValue


class UnknownOperation(LookupError):
    """A recorded (service, operation) this table does not map: add it here rather than guess."""


@dataclass(frozen=True)
class Facts:
    """What the ARNs and condition keys need beyond the call: the rig's account and region, and each
    instance's tags as moto holds them when the ledger is judged (read with admin access)."""

    account: str
    region: str
    instance_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    partition: str = "aws"

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region is None else region}:"
                f"{self.account if account is None else account}:{resource}")


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    implied_by: str = ""  # set when the call makes this request implicitly (iam:PassRole, ecs:TagResource)


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name (boto3.client(name))
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    instance: str | None = None  # a builder's own instance id, when its process knows it


NOT_AUTHORIZED = {("sts", "GetCallerIdentity")}  # AWS needs no permission for these: no request to judge

Builder = Callable[[Call, Facts], Iterator[IamRequest]]


def iam_requests(call: Call, facts: Facts) -> list[IamRequest]:
    """Every IAM request the call makes (empty for calls AWS authorizes without IAM)."""
    if (call.service, call.operation) in NOT_AUTHORIZED:
        return []
    builder = TABLE.get((call.service, call.operation))
    if builder is None:
        raise UnknownOperation(f"{call.service} {call.operation}: not in localrig/ledger/iam_requests.py TABLE; "
                               "add its IAM action, resource and condition keys")
    return list(builder(call, facts))


# ---------------------------------------------------------------------------------------------- resources

def queue_arn(url: str, facts: Facts) -> str:
    """``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`` (or moto's ``http://host:port/ACCOUNT/NAME``)."""
    parts = urlsplit(url)
    account, name = parts.path.strip("/").split("/")[-2:]
    host = parts.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 3 else facts.region
    return facts.arn("sqs", name, region, account)


def ssm_parameter_arn(name: str, facts: Facts) -> str:
    if name.startswith("arn:"):
        return name
    return facts.arn("ssm", f"parameter{name}" if name.startswith("/") else f"parameter/{name}")


def ecs_service_arn(cluster: str | None, service: str, facts: Facts) -> str:
    if service.startswith("arn:"):
        return service
    cluster_name = (cluster or "default").rsplit("/", 1)[-1]
    return facts.arn("ecs", f"service/{cluster_name}/{service}")


def ecs_cluster_arn(cluster: str | None, facts: Facts) -> str:
    name = cluster or "default"
    return name if name.startswith("arn:") else facts.arn("ecs", f"cluster/{name}")


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ---------------------------------------------------------------------------------------------- builders

def _on(action: str, resource: Callable[[Call, Facts], list[str]]) -> Builder:
    def build(call: Call, facts: Facts) -> Iterator[IamRequest]:
        for arn in resource(call, facts):
            yield IamRequest(action, arn)
    return build


def _anywhere(action: str) -> Builder:
    return _on(action, lambda call, facts: ["*"])


def _queue(call: Call, facts: Facts) -> list[str]:
    if "QueueUrl" in call.params:
        return [queue_arn(call.params["QueueUrl"], facts)]
    return [facts.arn("sqs", call.params["QueueName"])]


def _topic(call: Call, facts: Facts) -> list[str]:
    return [call.params.get("TopicArn") or call.params["TargetArn"]]


def _table(call: Call, facts: Facts) -> list[str]:
    name = call.params["TableName"]
    table = name if name.startswith("arn:") else facts.arn("dynamodb", f"table/{name}")
    index = call.params.get("IndexName")
    return [f"{table}/index/{index}" if index else table]


def _parameters(call: Call, facts: Facts) -> list[str]:
    names = _listed(call.params.get("Name")) + _listed(call.params.get("Names"))
    return [ssm_parameter_arn(n, facts) for n in names]


def _log_group(call: Call, facts: Facts) -> list[str]:
    return [facts.arn("logs", f"log-group:{call.params['logGroupName']}")]


def _log_stream(call: Call, facts: Facts) -> list[str]:
    """CreateLogStream and PutLogEvents are authorized on the stream's ARN, which is why AWS's examples grant
    ``log-group:NAME:*``."""
    return [facts.arn("logs", f"log-group:{call.params['logGroupName']}:log-stream:{call.params['logStreamName']}")]


def _services(call: Call, facts: Facts) -> list[str]:
    cluster = call.params.get("cluster")
    return [ecs_service_arn(cluster, s, facts) for s in _listed(call.params.get("services") or call.params["service"])]


def _repositories(call: Call, facts: Facts) -> list[str]:
    names = _listed(call.params.get("repositoryName")) + _listed(call.params.get("repositoryNames"))
    account = call.params.get("registryId")
    return [facts.arn("ecr", f"repository/{n}", account=account) for n in names]


def _secret(call: Call, facts: Facts) -> list[str]:
    secret = call.params["SecretId"]
    return [secret if secret.startswith("arn:") else facts.arn("secretsmanager", f"secret:{secret}")]


def _tag_context(prefixes: tuple[str, ...], kind: str, tags: Mapping[str, str]) -> dict[str, ContextValue]:
    return {f"{p}:{kind}/{k}": v for p in prefixes for k, v in tags.items()}


def _instances(action: str) -> Builder:
    """One request per instance, with its tags as ``ec2:ResourceTag/`` and ``aws:ResourceTag/`` keys."""
    def build(call: Call, facts: Facts) -> Iterator[IamRequest]:
        for instance in _listed(call.params.get("InstanceIds")):
            tags = facts.instance_tags.get(instance, {})
            yield IamRequest(action, facts.arn("ec2", f"instance/{instance}"),
                             _tag_context(("ec2", "aws"), "ResourceTag", tags))
    return build


def _create_tags(call: Call, facts: Facts) -> Iterator[IamRequest]:
    """Each tagged resource is one request, with the tags asked for (``aws:RequestTag/``, ``aws:TagKeys``), the
    resource's tags and ARN (``aws:ARN``), and the calling instance (``ec2:SourceInstanceARN``) when known."""
    asked = {t["Key"]: t.get("Value", "") for t in _listed(call.params.get("Tags"))}
    for resource in _listed(call.params.get("Resources")):
        if not str(resource).startswith("i-"):
            raise UnknownOperation(f"ec2 CreateTags on {resource!r}: only instances are mapped")
        arn = facts.arn("ec2", f"instance/{resource}")
        context: dict[str, ContextValue] = {"aws:ARN": arn, "aws:TagKeys": sorted(asked),
                                            **_tag_context(("aws",), "RequestTag", asked),
                                            **_tag_context(("ec2", "aws"), "ResourceTag",
                                                           facts.instance_tags.get(resource, {}))}
        if call.instance:
            context["ec2:SourceInstanceARN"] = facts.arn("ec2", f"instance/{call.instance}")
        yield IamRequest("ec2:CreateTags", arn, context)


def _register_task_definition(call: Call, facts: Facts) -> Iterator[IamRequest]:
    """On the family's task definition (the call assigns the revision, so any: ``family:*``), with the tags
    asked for; plus ``iam:PassRole`` for each role handed to the task, and ``ecs:TagResource``
    (``ecs:CreateAction``) when it tags the revision it creates."""
    tags = {t["key"]: t.get("value", "") for t in _listed(call.params.get("tags"))}
    yield IamRequest("ecs:RegisterTaskDefinition", facts.arn("ecs", f"task-definition/{call.params['family']}:*"),
                     {"aws:TagKeys": sorted(tags), **_tag_context(("aws",), "RequestTag", tags)} if tags else {})
    for key in ("taskRoleArn", "executionRoleArn"):
        role = call.params.get(key)
        if role:
            arn = role if role.startswith("arn:") else f"arn:{facts.partition}:iam::{facts.account}:role/{role}"
            yield IamRequest("iam:PassRole", arn, {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
                             implied_by=f"ecs:RegisterTaskDefinition {key}")
    if tags:
        yield IamRequest("ecs:TagResource", facts.arn("ecs", f"task-definition/{call.params['family']}:*"),
                         {"ecs:CreateAction": "RegisterTaskDefinition", "aws:TagKeys": sorted(tags),
                          **_tag_context(("aws",), "RequestTag", tags)},
                         implied_by="ecs:RegisterTaskDefinition tags")


def _with_cluster(action: str, resource: Callable[[Call, Facts], list[str]]) -> Builder:
    """ECS actions carry the cluster as ``ecs:cluster``."""
    def build(call: Call, facts: Facts) -> Iterator[IamRequest]:
        cluster = ecs_cluster_arn(call.params.get("cluster"), facts)
        for arn in resource(call, facts):
            yield IamRequest(action, arn, {"ecs:cluster": cluster})
    return build


def _role(call: Call, facts: Facts) -> list[str]:
    return [call.params["RoleArn"]]


TABLE: dict[tuple[str, str], Builder] = {
    # SQS: the *Batch operations are authorized as their single-message actions
    ("sqs", "ReceiveMessage"): _on("sqs:ReceiveMessage", _queue),
    ("sqs", "DeleteMessage"): _on("sqs:DeleteMessage", _queue),
    ("sqs", "DeleteMessageBatch"): _on("sqs:DeleteMessage", _queue),
    ("sqs", "ChangeMessageVisibility"): _on("sqs:ChangeMessageVisibility", _queue),
    ("sqs", "ChangeMessageVisibilityBatch"): _on("sqs:ChangeMessageVisibility", _queue),
    ("sqs", "SendMessage"): _on("sqs:SendMessage", _queue),
    ("sqs", "SendMessageBatch"): _on("sqs:SendMessage", _queue),
    ("sqs", "GetQueueAttributes"): _on("sqs:GetQueueAttributes", _queue),
    ("sqs", "GetQueueUrl"): _on("sqs:GetQueueUrl", _queue),
    ("sqs", "ListQueueTags"): _on("sqs:ListQueueTags", _queue),
    ("sqs", "TagQueue"): _on("sqs:TagQueue", _queue),
    ("sqs", "UntagQueue"): _on("sqs:UntagQueue", _queue),
    ("sns", "Publish"): _on("sns:Publish", _topic),
    # EC2: DescribeInstances has no resource type; Start/Stop/CreateTags are per instance, with its tags
    ("ec2", "DescribeInstances"): _anywhere("ec2:DescribeInstances"),
    ("ec2", "StartInstances"): _instances("ec2:StartInstances"),
    ("ec2", "StopInstances"): _instances("ec2:StopInstances"),
    ("ec2", "CreateTags"): _create_tags,
    # ECS: reading task definitions and the List* calls have no resource type
    ("ecs", "DescribeTaskDefinition"): _anywhere("ecs:DescribeTaskDefinition"),
    ("ecs", "RegisterTaskDefinition"): _register_task_definition,
    ("ecs", "DeregisterTaskDefinition"): _anywhere("ecs:DeregisterTaskDefinition"),
    ("ecs", "ListTaskDefinitions"): _anywhere("ecs:ListTaskDefinitions"),
    ("ecs", "ListClusters"): _anywhere("ecs:ListClusters"),
    ("ecs", "ListServices"): _with_cluster("ecs:ListServices", lambda call, facts: ["*"]),
    ("ecs", "DescribeServices"): _with_cluster("ecs:DescribeServices", _services),
    ("ecs", "UpdateService"): _with_cluster("ecs:UpdateService", _services),
    # ECR: the login token has no resource type; image reads are per repository
    ("ecr", "GetAuthorizationToken"): _anywhere("ecr:GetAuthorizationToken"),
    ("ecr", "DescribeImages"): _on("ecr:DescribeImages", _repositories),
    ("ecr", "BatchGetImage"): _on("ecr:BatchGetImage", _repositories),
    ("ecr", "DescribeRepositories"): _on("ecr:DescribeRepositories", _repositories),
    ("ssm", "GetParameter"): _on("ssm:GetParameter", _parameters),
    ("ssm", "GetParameters"): _on("ssm:GetParameters", _parameters),
    ("secretsmanager", "GetSecretValue"): _on("secretsmanager:GetSecretValue", _secret),
    ("logs", "CreateLogGroup"): _on("logs:CreateLogGroup", _log_group),
    ("logs", "CreateLogStream"): _on("logs:CreateLogStream", _log_stream),
    ("logs", "PutLogEvents"): _on("logs:PutLogEvents", _log_stream),
    ("dynamodb", "PutItem"): _on("dynamodb:PutItem", _table),
    ("dynamodb", "GetItem"): _on("dynamodb:GetItem", _table),
    ("dynamodb", "DeleteItem"): _on("dynamodb:DeleteItem", _table),
    ("dynamodb", "UpdateItem"): _on("dynamodb:UpdateItem", _table),
    ("dynamodb", "Query"): _on("dynamodb:Query", _table),
    # CloudWatch metrics have no resource type (its endpoint prefix is "monitoring", its IAM prefix "cloudwatch")
    ("cloudwatch", "GetMetricStatistics"): _anywhere("cloudwatch:GetMetricStatistics"),
    ("cloudwatch", "GetMetricData"): _anywhere("cloudwatch:GetMetricData"),
    ("sts", "AssumeRole"): _on("sts:AssumeRole", _role),
}
