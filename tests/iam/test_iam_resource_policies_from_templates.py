"""The topic and queue policies of infra/*.yaml, resolved against the deployed stacks, decided by the evaluator
(issue 12 item 3): only the source account's request roles may publish a build request, and only the topics
subscribed to a queue may send to it. Statements are found by what they allow, never by Sid, so the checks
follow the templates as they grow (FIFO topic and queues, the wake queue)."""

from __future__ import annotations

from typing import Any

import boto3

from infra.stage_settings import lambda_name
from localrig.iam.cfn_policies import TemplatePolicy
from localrig.iam.iam_eval import Request, evaluate
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import SOURCE_ACCOUNT

STRANGER_ACCOUNT = "999988887777"


def attached_policy(deployed: Deployed, kind: str, target: str) -> dict[str, Any] | None:
    """The resource policy of one topic (ARN) or queue (URL); None when the template gives it none."""
    found = [p for p in deployed.policies if p.resource_type == kind and target in (p.attached_to or [])]
    assert len(found) <= 1, f"{target} has {len(found)} {kind} resources; AWS keeps only the last one applied"
    return found[0].document if found else None


def publishers(topic_policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in topic_policy["Statement"] if s["Effect"] == "Allow" and "sns:Publish" in _listed(s["Action"])]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_grants(identity: dict[str, Any], action: str, resource: str) -> bool:
    """Whether a function's own policy grants the call (asked as a caller in the resource's account)."""
    return evaluate([identity], None, Request(session(resource.split(":")[4], "any"), action, resource)).allowed


def session(account: str, role: str) -> str:
    """A Lambda function's credentials: a session of its role named after the function."""
    return f"arn:aws:sts::{account}:assumed-role/{role}/{role}"


def request_topic(deployed: Deployed) -> tuple[str, dict[str, Any]]:
    arn = deployed.pipeline.outputs["RequestTopicArn"]
    policy = attached_policy(deployed, "AWS::SNS::TopicPolicy", arn)
    assert policy is not None, "the request topic has no topic policy: no other account could publish"
    assert publishers(policy), "the request topic's policy allows no one to publish"
    return arn, policy


def request_roles(deployed: Deployed) -> list[str]:
    return deployed.stacks["pipeline.yaml"].parameters["RequestRoleNames"].split(",")


def dev_function(role: str, recorded: dict[str, dict[str, Any]]) -> dict[str, Any]:
    by_role = {lambda_name("pushdeploy", "dev", name.removeprefix("policy-dev-")): policy
               for name, policy in recorded.items() if name.startswith("policy-dev-")}
    assert role in by_role, f"RequestRoleNames names {role}, which no dev-stage function's role is ({sorted(by_role)})"
    return by_role[role]


def test_each_request_role_may_publish_with_its_recorded_policy(deployed: Deployed, recorded) -> None:
    topic, policy = request_topic(deployed)
    assert deployed.stacks["pipeline.yaml"].pseudo["AWS::AccountId"] != SOURCE_ACCOUNT  # a cross-account setup
    for role in request_roles(deployed):
        decision = evaluate([dev_function(role, recorded)], policy,
                            Request(session(SOURCE_ACCOUNT, role), "sns:Publish", topic))
        assert decision.allowed, f"{role}: {decision.reason}"
        assert "cross-account" in decision.reason


def test_every_dev_function_that_publishes_is_a_named_request_role(deployed: Deployed, recorded) -> None:
    """A dev function granted sns:Publish on the topic but missing from RequestRoleNames fails at its first push."""
    topic, policy = request_topic(deployed)
    for name, identity in recorded.items():
        if not name.startswith("policy-dev-"):
            continue
        role = lambda_name("pushdeploy", "dev", name.removeprefix("policy-dev-"))
        if identity_grants(identity, "sns:Publish", topic):
            request = Request(session(SOURCE_ACCOUNT, role), "sns:Publish", topic)
            assert evaluate([identity], policy, request).allowed, f"{name} may publish but its role is not named"


def test_pipeline_account_functions_publish_with_their_own_policy(deployed: Deployed, recorded) -> None:
    """Same account (the webhook and API routes): the identity policy suffices, the topic policy must not deny."""
    topic, policy = request_topic(deployed)
    account = topic.split(":")[4]
    publishing = [n for n, p in recorded.items() if n.startswith("policy-prod-")
                  and identity_grants(p, "sns:Publish", topic)]
    assert publishing, "no pipeline-stage function publishes build requests (the API routes do)"
    for name in publishing:
        role = lambda_name("pushdeploy", "prod", name.removeprefix("policy-prod-"))
        assert evaluate([recorded[name]], policy, Request(session(account, role), "sns:Publish", topic)).allowed


STRANGERS = {  # who -> why they must not publish, even with a publish grant of their own
    "the right role name in another account": lambda role: session(STRANGER_ACCOUNT, role),
    "a role of the source account not named": lambda role: session(SOURCE_ACCOUNT, "pushdeploy-dev-notify"),
    "a user of the source account with the role's name": lambda role: f"arn:aws:iam::{SOURCE_ACCOUNT}:user/{role}",
    "the source account's root": lambda role: f"arn:aws:iam::{SOURCE_ACCOUNT}:root",
}


def test_no_one_else_may_publish_even_with_a_publish_grant(deployed: Deployed) -> None:
    topic, policy = request_topic(deployed)
    grant = {"Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
    for why, who in STRANGERS.items():
        for role in request_roles(deployed):
            decision = evaluate([grant], policy, Request(who(role), "sns:Publish", topic))
            assert not decision.allowed, f"{why} ({who(role)}) may publish: {decision.reason}"


def test_a_named_role_without_its_own_grant_may_not_publish(deployed: Deployed) -> None:
    topic, policy = request_topic(deployed)
    for role in request_roles(deployed):
        assert not evaluate([], policy, Request(session(SOURCE_ACCOUNT, role), "sns:Publish", topic)).allowed


def test_the_topic_policy_allows_nothing_but_publishing(deployed: Deployed) -> None:
    topic, policy = request_topic(deployed)
    grant = {"Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
    role = request_roles(deployed)[0]
    for action in ("sns:Subscribe", "sns:SetTopicAttributes", "sns:DeleteTopic", "sns:AddPermission"):
        assert not evaluate([grant], policy, Request(session(SOURCE_ACCOUNT, role), action, topic)).allowed, action


# ------------------------------------------------------------------------------------------------ queues

def sqs_subscriptions(deployed: Deployed) -> list[tuple[str, str]]:
    """(topic ARN, queue ARN) of every SQS subscription the templates create (moto does not apply them)."""
    found = []
    for stack in deployed.stacks.values():
        for logical_id, resource in stack.template["Resources"].items():
            if resource["Type"] == "AWS::SNS::Subscription" and stack.creates(logical_id):
                properties = stack.resolve(resource["Properties"])
                if properties["Protocol"] == "sqs":
                    found.append((properties["TopicArn"], properties["Endpoint"]))
    return found


def queue_policy(aws: boto3.Session, deployed: Deployed, queue_arn: str) -> dict[str, Any] | None:
    sqs = aws.client("sqs")
    policies = [p for p in deployed.policies if p.resource_type == "AWS::SQS::QueuePolicy"]
    for policy in policies:
        for url in policy.attached_to:
            if sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == \
                    queue_arn:
                return policy.document
    return None


def sns_sends(topic: str, queue: str, **context: str) -> Request:
    return Request("sns.amazonaws.com", "sqs:SendMessage", queue, {"aws:SourceArn": topic, **context})


def test_every_subscribed_queue_lets_its_topic_send(aws: boto3.Session, deployed: Deployed) -> None:
    """On AWS a topic delivers to a queue only if the queue's policy lets sns.amazonaws.com send for that topic."""
    subscriptions = sqs_subscriptions(deployed)
    build_queue = deployed.pipeline.outputs["BuildQueueArn"]
    assert (deployed.pipeline.outputs["RequestTopicArn"], build_queue) in subscriptions
    for topic, queue in subscriptions:
        decision = evaluate([], queue_policy(aws, deployed, queue), sns_sends(topic, queue))
        assert decision.allowed, f"{topic} -> {queue}: {decision.reason}"


def test_queues_refuse_other_topics_services_and_accounts(aws: boto3.Session, deployed: Deployed) -> None:
    close_topic = deployed.pipeline.outputs["CloseTopicArn"]
    checked = 0
    for topic, queue in sqs_subscriptions(deployed):
        policy = queue_policy(aws, deployed, queue)
        subscribed = {t for t, q in sqs_subscriptions(deployed) if q == queue}
        for stranger in {close_topic, topic + "-other", topic.replace(topic.split(":")[4], STRANGER_ACCOUNT)} \
                - subscribed:
            assert not evaluate([], policy, sns_sends(stranger, queue)).allowed, f"{stranger} may send to {queue}"
        assert not evaluate([], policy, Request("sns.amazonaws.com", "sqs:SendMessage", queue)).allowed
        assert not evaluate([], policy, Request("events.amazonaws.com", "sqs:SendMessage", queue,
                                                {"aws:SourceArn": topic})).allowed
        anyone = {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
        for outsider in (session(STRANGER_ACCOUNT, "pushdeploy-pipeline-builder"), session(SOURCE_ACCOUNT, "x")):
            assert not evaluate([anyone], policy, Request(outsider, "sqs:SendMessage", queue)).allowed
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sqs:SetQueueAttributes"):
            assert not evaluate([], policy, Request("sns.amazonaws.com", action, queue,
                                                    {"aws:SourceArn": topic})).allowed, action
        checked += 1
    assert checked >= 1


def test_every_resource_policy_statement_names_its_principals(deployed: Deployed) -> None:
    """No statement of a topic or queue policy opens to everyone without a condition that narrows it."""
    resource_policies: list[TemplatePolicy] = [p for p in deployed.policies if p.attached_to is not None]
    assert resource_policies
    for policy in resource_policies:
        for statement in policy.document["Statement"]:
            principal = statement.get("Principal")
            aws_principals = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]
            if statement["Effect"] == "Allow" and "*" in aws_principals:
                assert statement.get("Condition"), f"{policy.name}: an unconditioned Allow for Principal '*'"
            assert "NotPrincipal" not in statement or statement["Effect"] == "Deny", policy.name
