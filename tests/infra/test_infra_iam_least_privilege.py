"""Every IAM permission pushdeploy grants names its actions and resources: no ``Action: "*"``,
no service-wide ``svc:*``, and ``Resource: "*"`` only for the actions AWS offers no resource
type for - each listed here with the reason. Covers both templates, the Chalice policy files
and the inline policy ``python -m infra failure-destinations`` adds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.failure_destinations import send_policy
from tests.infra.infra_stacks import PIPELINE_TEMPLATE, REPO, SOURCE_TEMPLATE, load_template

# action -> why it must be granted on Resource "*" (AWS Service Authorization Reference: no resource type)
RESOURCE_STAR_ALLOWED = {
    "ecr:GetAuthorizationToken": "the registry login token is account-wide; the action has no resource type",
    "ecs:DescribeTaskDefinition": "no resource type for task-definition reads",
    "ecs:DeregisterTaskDefinition": "no resource type (old revisions are pruned by the agent)",
    "ecs:ListTaskDefinitions": "list actions have no resource type",
    "ecs:ListClusters": "list actions have no resource type (the agent finds every revision in use before pruning)",
    "ecs:ListServices": "no resource type (only the ecs:cluster condition key); same reason",
    "ec2:DescribeInstances": "EC2 Describe* actions have no resource type (Lambdas read the builder's state)",
    "cloudwatch:GetMetricStatistics": "metric reads have no resource type (the reconcile reads the build queue's "
                                      "ApproximateAgeOfOldestMessage, which SQS offers only as a metric)",
}


def _statements_in(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement in a template, following both branches of Fn::If."""
    if isinstance(node, dict):
        if "Fn::If" in node:
            _, yes, no = node["Fn::If"]
            yield from _statements_in(yes, where)
            yield from _statements_in(no, where)
            return
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield where, node
            return
        for key, value in node.items():
            if key == "AssumeRolePolicyDocument":
                continue  # trust policies name principals, not resources
            yield from _statements_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _statements_in(item, f"{where}[{i}]")


def all_statements() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for template in (PIPELINE_TEMPLATE, SOURCE_TEMPLATE):
        parsed = load_template(template)
        found += _statements_in(parsed["Resources"], f"{template.name} Resources")
    for path in sorted((REPO / ".chalice").glob("policy-*.json")):
        found += _statements_in(json.loads(path.read_text()), f"{path.name} ")
    found += _statements_in(send_policy("arn:aws:sqs:us-east-1:123456789012:q"), "failure-destination-inline-policy ")
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


STATEMENTS = all_statements()


def test_the_check_sees_every_policy_source() -> None:
    sources = {where.split(" ")[0] for where, _ in STATEMENTS}
    assert {"pipeline.yaml", "source.yaml", "failure-destination-inline-policy"} <= sources
    assert any(s.startswith("policy-prod-") for s in sources) and any(s.startswith("policy-dev-") for s in sources)
    assert len(STATEMENTS) > 15


@pytest.mark.parametrize(("where", "stmt"), STATEMENTS, ids=[f"{w}:{s.get('Sid', '?')}" for w, s in STATEMENTS])
def test_statement_names_actions_and_resources(where: str, stmt: dict[str, Any]) -> None:
    assert "NotAction" not in stmt and "NotResource" not in stmt, f"{where}: NotAction/NotResource grant too much"
    assert stmt["Effect"] == "Allow" or "Principal" in stmt
    actions = _as_list(stmt["Action"])
    for action in actions:
        assert isinstance(action, str) and action != "*" and not action.endswith(":*"), f"{where}: action {action}"
        assert "*" not in action, f"{where}: wildcard action {action}"
    if "Principal" in stmt:
        return  # resource policies (topic, queue): Resource is the policy's own resource
    resources = _as_list(stmt["Resource"])
    if "*" in resources:
        unexplained = [a for a in actions if a not in RESOURCE_STAR_ALLOWED]
        assert not unexplained, f"{where}: Resource '*' for {unexplained} (AWS has a resource type for them)"
        assert resources == ["*"]


def test_resource_star_exceptions_are_all_used() -> None:
    """An exception nobody needs any more is a hole waiting for the next statement: drop it."""
    used = {a for _, s in STATEMENTS if "*" in _as_list(s.get("Resource")) for a in _as_list(s["Action"])}
    assert used == set(RESOURCE_STAR_ALLOWED)


def test_the_check_rejects_a_star_grant(tmp_path: Path) -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
    ((where, stmt),) = list(_statements_in(bad, "bad"))
    with pytest.raises(AssertionError):
        test_statement_names_actions_and_resources(where, stmt)
