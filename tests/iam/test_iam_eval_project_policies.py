"""The evaluator reads every policy pushdeploy grants (the Chalice files and the templates' identity policies as
moto created them): each unconditioned Allow grants exactly the actions and resources it names, to a caller of
the resource's account, and nothing next to them. What the next step (the call ledger) relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3

from localrig.iam.cfn_policies import without_nulls
from localrig.iam.iam_eval import Request, evaluate
from tests.infra.infra_stacks import REPO, role_policy


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_policies(aws: boto3.Session | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / ".chalice").glob("policy-*.json")):
        yield path.name, json.loads(path.read_text())
    if aws is not None:
        iam = aws.client("iam")
        for role in iam.list_roles()["Roles"]:
            for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                yield f"role {role['RoleName']} {name}", without_nulls(role_policy(iam, role["RoleName"], name))


def grants(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(action, concrete resource) for each unconditioned Allow; wildcards in the resource filled in."""
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow" or "Condition" in statement:
            continue
        for action in _listed(statement["Action"]):
            for resource in _listed(statement["Resource"]):
                yield action, resource.replace("*", "x").replace("?", "y") if resource != "*" else "*"


def caller_for(resource: str) -> str:
    account = resource.split(":")[4] if resource.count(":") >= 5 and resource.split(":")[4] else "123456789012"
    return f"arn:aws:sts::{account}:assumed-role/part/session"


def check(name: str, document: dict[str, Any]) -> int:
    checked = 0
    for action, resource in grants(document):
        decision = evaluate([document], None, Request(caller_for(resource), action, resource))
        assert decision.allowed, f"{name}: {action} on {resource}: {decision.reason}"
        neighbour = resource + "-other" if resource != "*" else None
        if neighbour and not any(r == "*" or r.endswith("*") for s in document["Statement"]
                                 for r in _listed(s.get("Resource", [])) if action in _listed(s["Action"])):
            assert not evaluate([document], None, Request(caller_for(resource), action, neighbour)).allowed, \
                f"{name}: {action} also allowed on {neighbour}"
        assert not evaluate([document], None, Request(caller_for(resource), action + "Extra", resource)).allowed
        checked += 1
    return checked


def test_every_chalice_policy_grants_what_it_names() -> None:
    assert sum(check(name, document) for name, document in identity_policies()) > 20


def test_every_template_role_policy_grants_what_it_names(aws: boto3.Session, deployed) -> None:
    roles = [(n, d) for n, d in identity_policies(aws) if n.startswith("role ")]
    assert roles
    assert sum(check(name, document) for name, document in roles) > 10
