"""The identity policies each part of pushdeploy holds on AWS, resolved for the rig's own stack.

Why: on the rig every part signs as its own principal (issue 12), and the call ledger judges each call against
that part's policy. Both need the documents AWS would hold, not the placeholders in the repository: the
Chalice policy files name example ARNs until ``python -m infra record`` points them at a stack, so they are
recorded here the same way (``infra.stage_settings.record_policies``, on a copy: the user's files are never
touched); the builder's policy is read back from the role CloudFormation made in moto.

``widened`` is what moto is given: moto compares a statement's Resource with ``*`` only and refuses any
Condition it cannot evaluate, so a scoped Allow would be refused outright. Widened, moto still enforces the
actions; resources and conditions are the ledger's to check, with the real documents.
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.failure_destinations import send_policy
from infra.stack_outputs import StackOutputs, read_outputs
from localrig.iam.cfn_policies import without_nulls

REPO_ROOT = Path(__file__).resolve().parents[2]
# Chalice function -> the stage whose policy file it has on AWS (dev = source account, prod = pipeline account)
FUNCTION_STAGES = {
    "request": "dev", "request_events": "dev",
    "build_start": "prod", "close": "prod", "notify": "prod", "history": "prod", "reconcile": "prod",
    "api_handler": "prod", "dashboard_auth": "prod",
}
BUILDER = "builder"
BUILDER_ROLE = "BuilderRole"  # the pipeline template's logical id of the builders' instance role


class PartPolicyError(RuntimeError):
    """A part's policy could not be found or read: the message names which and where."""


@dataclass(frozen=True)
class PartPolicy:
    part: str
    documents: tuple[dict[str, Any], ...]


ClientFactory = Callable[[str], Any]


def part_policies(client: ClientFactory, stack_name: str, project: Path = REPO_ROOT) -> dict[str, PartPolicy]:
    """Every part's policies: each Chalice function's file recorded for ``stack_name`` plus the failure-destination
    grant, and the builder's role."""
    pipeline = read_outputs(client("cloudformation"), stack_name)
    # `python -m infra failure-destinations` adds this to every function's role: Lambda sends an asynchronous
    # invocation's event to the failure queue with the function's own execution role
    failures = send_policy(pipeline.get("LambdaFailureQueueArn"))
    found = {name: PartPolicy(name, (document, failures))
             for name, document in _chalice_policies(pipeline, project).items()}
    found[BUILDER] = PartPolicy(BUILDER, tuple(_role_policies(client, stack_name, BUILDER_ROLE)))
    return found


def _chalice_policies(pipeline: StackOutputs, project: Path) -> dict[str, dict[str, Any]]:
    """The files as ``infra record`` leaves them: prod from the pipeline stack, dev from a source stack that,
    on the one-account rig, lives in the same account and names the same request topic."""
    from infra.stage_settings import record_policies

    source = StackOutputs(pipeline.name, pipeline.stack_id, {
        "PushdeployStackKind": "source", "RequestTopicArn": pipeline.get("RequestTopicArn")}, pipeline.stack_arn)
    with tempfile.TemporaryDirectory(prefix="pushdeploy-policies-") as tmp:
        copy = Path(tmp)
        shutil.copytree(project / ".chalice", copy / ".chalice",
                        ignore=shutil.ignore_patterns("deployed", "deployments"))
        record_policies(copy, "prod", pipeline)
        record_policies(copy, "dev", source)
        documents = {}
        for function, stage in FUNCTION_STAGES.items():
            path = copy / ".chalice" / f"policy-{stage}-{function}.json"
            if not path.exists():
                raise PartPolicyError(f"{path.name}: no policy file for the {function} function in .chalice/")
            documents[function] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def _role_policies(client: ClientFactory, stack_name: str, logical_id: str) -> list[dict[str, Any]]:
    """The inline policies of the stack's role ``logical_id``, as moto holds them (AWS::NoValue dropped)."""
    cfn, iam = client("cloudformation"), client("iam")
    # (moto answers DescribeStackResource with a 500: read the stack's resource summaries)
    summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    roles = [r["PhysicalResourceId"] for r in summaries if r.get("LogicalResourceId") == logical_id]
    if not roles:
        raise PartPolicyError(f"stack {stack_name}: no resource {logical_id} (made from infra/pipeline.yaml?)")
    role = roles[0]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    if not names:
        raise PartPolicyError(f"stack {stack_name}: role {role} ({logical_id}) has no inline policy")
    return [without_nulls(_document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
            for name in names]


def _document(value: Any) -> dict[str, Any]:
    """moto returns a CloudFormation-made inline policy as the Python repr of the dict it was given."""
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return ast.literal_eval(value)


def widened(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document for moto: Allows on ``*`` without conditions, Denies dropped (widened, a Deny would refuse
    every call; the ledger applies it with the real document)."""
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        wide = {k: v for k, v in statement.items() if k not in ("Resource", "NotResource", "Condition")}
        kept.append(dict(wide, Resource="*"))
    return {"Version": document.get("Version", "2012-10-17"), "Statement": kept}
