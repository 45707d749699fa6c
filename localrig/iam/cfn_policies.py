"""Every IAM policy document of a CloudFormation template, with its intrinsic functions resolved against the
stack as deployed (moto on the rig, AWS alike).

Why: moto creates IAM roles' inline policies from a template, but ignores ``AWS::SNS::TopicPolicy`` and
``AWS::SQS::QueuePolicy``, so the resource policies pushdeploy relies on (who may publish a build request,
which topic may fill a queue) exist only in the template. Resolving them with the stack's real parameter
values, physical ids and attributes gives the documents AWS would hold, for the evaluator and for parliament.
Documents are found by shape (any ``PolicyDocument``/``AssumeRolePolicyDocument`` property), not by name, so
new roles, queues and topics are covered without a change here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

POLICY_PROPERTIES = ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy")
# the property of a resource-policy resource that names the resources it is attached to
ATTACHED_TO = {"AWS::SNS::TopicPolicy": "Topics", "AWS::SQS::QueuePolicy": "Queues"}
NO_VALUE = object()


class ResolveError(ValueError):
    """An intrinsic function or attribute this resolver does not know: add it rather than guess."""


@dataclass(frozen=True)
class TemplatePolicy:
    logical_id: str  # the resource holding the document
    resource_type: str
    label: str  # where in the resource: "PolicyDocument", "Policies[0] pushdeploy-builder", ...
    document: Any  # raw (intrinsics) before resolve(), resolved after
    attached_to: Any = None  # topic/queue policies: the topics or queues (raw, then resolved)

    @property
    def name(self) -> str:
        return f"{self.logical_id} {self.label}"


def template_policies(template: Mapping[str, Any]) -> list[TemplatePolicy]:
    """Every policy document in the template's resources (conditional resources included)."""
    found: list[TemplatePolicy] = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        attached = resource.get("Properties", {}).get(ATTACHED_TO.get(kind, ""))
        for label, document in _documents(resource.get("Properties", {}), ""):
            found.append(TemplatePolicy(logical_id, kind, label, document, attached))
    return found


def _documents(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in POLICY_PROPERTIES:
                name = node.get("PolicyName")
                yield (f"{where}{key}" if name is None else f"{where.rstrip('.')} {name}".strip()), value
            else:
                yield from _documents(value, f"{where}{key}.")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _documents(item, f"{where.rstrip('.')}[{i}].")


Attribute = Callable[[str, str, str, str], Any]  # (resource type, logical id, physical id, attribute) -> value


@dataclass
class Stack:
    """What resolving needs from a deployed stack."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str]  # every parameter's value (defaults included)
    pseudo: Mapping[str, str]  # AWS::Region, AWS::AccountId, AWS::Partition, AWS::StackName, AWS::URLSuffix
    physical_ids: Mapping[str, str]  # logical id -> physical id (what Ref returns for a resource)
    attribute: Attribute

    def creates(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        """The value CloudFormation would give ``node``; ``AWS::NoValue`` entries are dropped."""
        if isinstance(node, Mapping):
            if len(node) == 1:
                (key, arg), = node.items()
                function = _FUNCTIONS.get(key)
                if function is not None:
                    return function(self, arg)
                if key.startswith("Fn::"):
                    raise ResolveError(f"intrinsic function {key} is not supported")
            resolved = {k: self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        return str(node) if isinstance(node, str) else node

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise ResolveError(f"Ref {name}: not a parameter, pseudo parameter or created resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.template["Resources"].get(logical_id)
        if resource is None or logical_id not in self.physical_ids:
            raise ResolveError(f"GetAtt {logical_id}.{attribute}: no such resource in the deployed stack")
        return self.attribute(resource["Type"], logical_id, self.physical_ids[logical_id], attribute)

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        out, position = [], 0
        while (start := text.find("${", position)) != -1:
            end = text.index("}", start)
            out.append(text[position:start])
            inner = text[start + 2:end]
            if inner.startswith("!"):
                out.append("${" + inner[1:] + "}")
            elif inner in variables:
                out.append(str(variables[inner]))
            elif "." in inner and inner.split(".", 1)[0] in self.template["Resources"]:
                out.append(str(self.get_att(*inner.split(".", 1))))
            else:
                out.append(str(self.ref(inner)))
            position = end + 1
        out.append(text[position:])
        return "".join(out)


def _get_att(stack: Stack, arg: Any) -> Any:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return stack.get_att(logical_id, stack.resolve(attribute))


def _if(stack: Stack, arg: Any) -> Any:
    name, yes, no = arg
    return stack.resolve(yes if stack.condition(name) else no)


def _select(stack: Stack, arg: Any) -> Any:
    index, items = stack.resolve(arg[0]), stack.resolve(arg[1])
    return items[int(index)]


def _find_in_map(stack: Stack, arg: Any) -> Any:
    name, first, second = (stack.resolve(a) for a in arg)
    return stack.template["Mappings"][name][first][second]


_FUNCTIONS: dict[str, Callable[[Stack, Any], Any]] = {
    "Ref": lambda s, a: s.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda s, a: s.sub(a),
    "Fn::Join": lambda s, a: str(a[0]).join(str(v) for v in s.resolve(a[1])),
    "Fn::Split": lambda s, a: s.resolve(a[1]).split(a[0]),
    "Fn::Select": _select,
    "Fn::If": _if,
    "Fn::Equals": lambda s, a: s.resolve(a[0]) == s.resolve(a[1]),
    "Fn::Not": lambda s, a: not s.resolve(a[0]),
    "Fn::And": lambda s, a: all(s.resolve(c) for c in a),
    "Fn::Or": lambda s, a: any(s.resolve(c) for c in a),
    "Condition": lambda s, a: s.condition(a),
    "Fn::FindInMap": _find_in_map,
}


def resolved(stack: Stack, policies: list[TemplatePolicy]) -> list[TemplatePolicy]:
    """The policies of the resources the stack creates: those without a Condition or whose Condition holds
    (decided from the template, since moto does not list the resource types it ignores)."""
    return [TemplatePolicy(p.logical_id, p.resource_type, p.label, stack.resolve(p.document),
                           None if p.attached_to is None else stack.resolve(p.attached_to))
            for p in policies if stack.creates(p.logical_id)]


def without_nulls(node: Any) -> Any:
    """moto keeps ``AWS::NoValue`` in a role's inline policy as null (CloudFormation drops it): drop it too."""
    if isinstance(node, Mapping):
        return {k: without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [without_nulls(v) for v in node if v is not None]
    return node


# (resource type, attribute) -> how to read it from the deployed resource (boto3 session, physical id)
_ATTRIBUTES: dict[tuple[str, str], Callable[[Any, str], Any]] = {
    ("AWS::SQS::Queue", "Arn"): lambda aws, pid: aws.client("sqs").get_queue_attributes(
        QueueUrl=pid, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
    ("AWS::SQS::Queue", "QueueName"): lambda aws, pid: pid.rstrip("/").rsplit("/", 1)[1],
    ("AWS::SQS::Queue", "QueueUrl"): lambda aws, pid: pid,
    ("AWS::SNS::Topic", "TopicArn"): lambda aws, pid: pid,
    ("AWS::SNS::Topic", "TopicName"): lambda aws, pid: pid.rsplit(":", 1)[1],
    ("AWS::IAM::Role", "Arn"): lambda aws, pid: aws.client("iam").get_role(RoleName=pid)["Role"]["Arn"],
    ("AWS::IAM::Role", "RoleId"): lambda aws, pid: aws.client("iam").get_role(RoleName=pid)["Role"]["RoleId"],
    ("AWS::IAM::InstanceProfile", "Arn"): lambda aws, pid: aws.client("iam").get_instance_profile(
        InstanceProfileName=pid)["InstanceProfile"]["Arn"],
    ("AWS::ECR::Repository", "Arn"): lambda aws, pid: aws.client("ecr").describe_repositories(
        repositoryNames=[pid])["repositories"][0]["repositoryArn"],
    ("AWS::ECR::Repository", "RepositoryUri"): lambda aws, pid: aws.client("ecr").describe_repositories(
        repositoryNames=[pid])["repositories"][0]["repositoryUri"],
    ("AWS::DynamoDB::Table", "Arn"): lambda aws, pid: aws.client("dynamodb").describe_table(
        TableName=pid)["Table"]["TableArn"],
    ("AWS::Logs::LogGroup", "Arn"): lambda aws, pid: next(
        g["arn"] for g in aws.client("logs").describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
        if g["logGroupName"] == pid),
    ("AWS::Lambda::Function", "Arn"): lambda aws, pid: aws.client("lambda").get_function(
        FunctionName=pid)["Configuration"]["FunctionArn"],
}


def deployed_stack(aws: Any, name: str, template: Mapping[str, Any]) -> Stack:
    """A Stack for ``name`` as created from ``template`` (a parsed template) through the boto3 session ``aws``."""
    cfn = aws.client("cloudformation")
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    _, partition, _, region, account, _ = described["StackId"].split(":", 5)
    parameters = {k: str(v["Default"]) for k, v in template.get("Parameters", {}).items() if "Default" in v}
    parameters.update({p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
                       for p in described.get("Parameters", [])})
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
                for r in page["StackResourceSummaries"] if r.get("PhysicalResourceId")}
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition,
              "AWS::StackName": name, "AWS::StackId": described["StackId"], "AWS::URLSuffix": "amazonaws.com"}

    def attribute(kind: str, logical_id: str, physical_id: str, attribute_name: str) -> Any:
        read = _ATTRIBUTES.get((kind, attribute_name))
        if read is None:
            raise ResolveError(f"GetAtt {logical_id}.{attribute_name}: reading {attribute_name} of a {kind} is not "
                               "supported (add it to localrig/iam/cfn_policies.py _ATTRIBUTES)")
        return read(aws, physical_id)

    return Stack(template, parameters, pseudo, physical, attribute)
