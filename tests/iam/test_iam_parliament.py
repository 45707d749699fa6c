"""parliament (offline, with its community auditors) over every policy pushdeploy grants (issue 12 item 4):
each .chalice/policy-*.json, every IAM role's policies as moto created them from infra/*.yaml (intrinsics
resolved by CloudFormation itself), the topic and queue policies resolved from the templates (moto ignores
those), and the inline policy `python -m infra failure-destinations` attaches.

A finding either goes, or is listed below: ACCEPTED for false positives (with why), OPEN for true findings
awaiting a fix in a product file (with the proposal; the policy's test is marked xfail with it). Either
list fails the suite when an entry no longer occurs, so neither outlives its finding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import parliament
import pytest

from infra.failure_destinations import send_policy
from localrig.iam.cfn_policies import without_nulls
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import REPO, role_policy

TRUST_POLICY = ("parliament has no trust-policy mode: it reads a role's trust policy as an identity policy, which "
                "needs a Resource; AWS rejects a Resource in a trust policy (Principal + sts:AssumeRole is the form)")
# (policy, parliament issue) -> why the finding is wrong here
ACCEPTED: dict[tuple[str, str], str] = {
    ("role pushdeploy-pipeline-builder trust", "MALFORMED"): TRUST_POLICY,
    ("role pushdeploy-gitpull trust", "MALFORMED"): TRUST_POLICY,
    ("role pushdeploy-pipeline-builder pushdeploy-builder", "CREDENTIALS_EXPOSURE"):
        "the builder's job needs both: ecr:GetAuthorizationToken is its docker login (ECR grants it only on *), "
        "and sts:AssumeRole names only the source account's git-pull role",
    ("role pushdeploy-pipeline-builder pushdeploy-builder", "PERMISSIONS_MANAGEMENT_ACTIONS"):
        "iam:PassRole names only the PassRoleNames roles, and only for iam:PassedToService ecs-tasks.amazonaws.com: "
        "registering a task definition that uses them requires it",
    ("role pushdeploy-pipeline-builder pushdeploy-builder", "UNKNOWN_CONDITION_FOR_ACTION"):
        "HeartbeatTagOnItsOwnInstanceOnly compares aws:ARN (the instance tagged) with ${ec2:SourceInstanceARN} (the "
        "instance whose role credentials sign): the one way a role shared by every builder limits each to its own "
        "instance. IAM evaluates aws:ARN though EC2's key list does not name it. The documented-looking "
        "alternative, Resource '${ec2:SourceInstanceARN}', was tried (2026-11-30): cfn-lint refuses it (E3510, "
        "a Resource must be an ARN or *)",
}
# (policy, parliament issue) -> what to change in which product file (true findings; not ours to fix here)
OPEN: dict[tuple[str, str], str] = {}
COMMUNITY_CONFIG = Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"


def findings(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(issue, severity, detail) of every finding at LOW or above (what the parliament CLI prints)."""
    parliament.override_config(COMMUNITY_CONFIG)  # the community auditors' issues and severities (idempotent)
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    found = [parliament.enhance_finding(f) for f in policy.findings]
    return sorted({(f.issue, f.severity, f"{f.detail} {f.location.get('actions', '')}".strip()) for f in found
                   if f.severity not in ("MUTE", "INFO")})


def chalice_policies() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / ".chalice").glob("policy-*.json")):
        yield f".chalice/{path.name}", json.loads(path.read_text())


def deployed_policies(aws: boto3.Session, deployed: Deployed) -> dict[str, dict[str, Any]]:
    """Every policy of the deployed stacks: IAM's as moto holds them, resource policies as resolved."""
    iam = aws.client("iam")
    found: dict[str, dict[str, Any]] = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        found[f"role {name} trust"] = without_nulls(role["AssumeRolePolicyDocument"])
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            found[f"role {name} {policy}"] = without_nulls(role_policy(iam, name, policy))
    for managed in iam.list_policies(Scope="Local")["Policies"]:
        version = iam.get_policy_version(PolicyArn=managed["Arn"], VersionId=managed["DefaultVersionId"])
        found[f"managed {managed['PolicyName']}"] = without_nulls(version["PolicyVersion"]["Document"])
    for policy in deployed.policies:
        if policy.attached_to is not None:
            found[f"{policy.resource_type} {policy.logical_id}"] = policy.document
    found["failure-destination-inline-policy"] = send_policy(deployed.pipeline.outputs["LambdaFailureQueueArn"])
    return found


@pytest.fixture
def all_policies(aws: boto3.Session, deployed: Deployed) -> dict[str, dict[str, Any]]:
    return {**dict(chalice_policies()), **deployed_policies(aws, deployed)}


def unexplained(name: str, document: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(findings neither accepted nor open, the open proposals that apply)."""
    found = findings(document)
    open_here = [OPEN[(name, issue)] for issue in sorted({f[0] for f in found}) if (name, issue) in OPEN]
    return [f for f in found if (name, f[0]) not in ACCEPTED and (name, f[0]) not in OPEN], open_here


@pytest.mark.parametrize(("name", "document"), list(chalice_policies()), ids=[n for n, _ in chalice_policies()])
def test_chalice_policy(name: str, document: dict[str, Any]) -> None:
    new, open_here = unexplained(name, document)
    assert new == [], f"{name}: fix the policy, or list the finding with why"
    if open_here:
        pytest.xfail("; ".join(open_here))


def test_every_deployed_policy(aws: boto3.Session, all_policies: dict[str, dict[str, Any]]) -> None:
    deployed_only = {n: d for n, d in all_policies.items() if not n.startswith(".chalice/")}
    assert any(n.startswith("role ") for n in deployed_only) and any("QueuePolicy" in n for n in deployed_only)
    problems = {name: new for name, document in deployed_only.items() if (new := unexplained(name, document)[0])}
    assert problems == {}, "fix these policies, or list each finding with why"
    open_here = [p for name, document in deployed_only.items() for p in unexplained(name, document)[1]]
    if open_here:
        pytest.xfail(f"{len(open_here)} open findings: " + " | ".join(open_here))


def test_every_listed_finding_still_occurs(all_policies: dict[str, dict[str, Any]]) -> None:
    occurring = {(name, f[0]) for name, document in all_policies.items() for f in findings(document)}
    stale = sorted((set(ACCEPTED) | set(OPEN)) - occurring)
    assert stale == [], "these findings are gone: drop them from ACCEPTED/OPEN"
    assert not set(ACCEPTED) & set(OPEN)


def test_parliament_reports_what_this_test_relies_on() -> None:
    """If parliament stopped finding anything (a broken install, a changed API), every check above would pass."""
    broad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole", "sts:AssumeRole"], "Resource": "*"}]}
    issues = {f[0] for f in findings(broad)}
    assert {"RESOURCE_STAR", "PERMISSIONS_MANAGEMENT_ACTIONS", "CREDENTIALS_EXPOSURE"} <= issues
