"""What judging a rig run's ledger needs from its moto, written next to the ledger while moto still runs.

Why a file: the verdicts are given after the rig has stopped (``python -m localrig ledger``, or at the end of
a pytest session that ran many rigs), and each rig had its own moto. So when a rig starts its first child
(the stack is provisioned by then) it writes ``ledger-context.json``: each part's principal and identity
policies (``localrig.iam.part_policies``), the resource policies of the template's topics and queues
(``localrig.iam.cfn_policies``: moto does not keep them), and the instances' tags. Tests refresh it before the rig
stops, so the tags are those at the end of the run. A context that cannot be made is written as an error,
which the verdicts report: a rig must never fail to start because of its ledger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localrig.ledger.iam_requests import Facts, queue_arn

LEDGER_FILE = "ledger.jsonl"
CONTEXT_FILE = "ledger-context.json"
SITE_DIR = Path(__file__).resolve().parent / "site"
REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_TEMPLATE = REPO_ROOT / "infra" / "pipeline.yaml"
APP_NAME = "pushdeploy"

Client = Callable[[str], Any]


def child_variables(run_dir: Path, client: Client, pythonpath: str) -> dict[str, str]:
    """The variables that make a rig child record its calls (``PUSHDEPLOY_RIG_LEDGER``, and the sitecustomize
    directory first on ``PYTHONPATH``); writes the run's context the first time."""
    if not (run_dir / CONTEXT_FILE).exists():
        write_context(run_dir, client)
    return {"PUSHDEPLOY_RIG_LEDGER": str(run_dir / LEDGER_FILE),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE_DIR), pythonpath]))}


def write_context(run_dir: Path, client: Client) -> dict[str, Any]:
    try:
        context = read_context(client)
    except Exception as exc:  # noqa: BLE001 - reported by the verdicts, never fatal to the rig
        context = {"error": f"{type(exc).__name__}: {exc}"}
    (run_dir / CONTEXT_FILE).write_text(json.dumps(context, indent=1, sort_keys=True))
    return context


def pipeline_stack(client: Client) -> str:
    stacks = client("cloudformation").describe_stacks()["Stacks"]
    named = [s["StackName"] for s in stacks
             if any(o["OutputKey"] == "PushdeployStackKind" and o["OutputValue"] == "pipeline"
                    for o in s.get("Outputs", []))]
    if len(named) != 1:
        raise LookupError(f"expected one pipeline stack in moto, found {named or 'none'} (the api provisioner "
                          "makes none: its parts have no policies to judge)")
    return named[0]


def read_context(client: Client) -> dict[str, Any]:
    from localrig.iam.part_policies import BUILDER, FUNCTION_STAGES, part_policies

    stack = pipeline_stack(client)
    arn = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    _, partition, _, region, account, _ = arn.split(":", 5)
    facts = Facts(account, region, partition=partition)
    builder_role = physical_id(client, stack, "BuilderRole")
    roles = {f: _lambda_role(f, stage) for f, stage in FUNCTION_STAGES.items()} | {BUILDER: builder_role}
    parts = {name: {"role": roles.get(name, name), "documents": list(p.documents)}
             for name, p in part_policies(client, stack).items()}
    return {"account": account, "region": region, "partition": partition, "stack": stack, "parts": parts,
            "resource_policies": resource_policies(client, stack, facts), "instance_tags": instance_tags(client)}


def physical_id(client: Client, stack: str, logical_id: str) -> str:
    """Through ListStackResources: moto's DescribeStackResource fails (500) on a stack holding a resource type
    it does not model (AWS::SNS::TopicPolicy)."""
    for page in client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["LogicalResourceId"] == logical_id:
                return resource["PhysicalResourceId"]
    raise LookupError(f"stack {stack} has no resource {logical_id}")


def _lambda_role(function: str, stage: str) -> str:
    from infra.stage_settings import lambda_name

    return lambda_name(APP_NAME, stage, function)


def resource_policies(client: Client, stack: str, facts: Facts) -> dict[str, Any]:
    """Topic and queue ARN -> its policy, resolved from infra/pipeline.yaml against the deployed stack."""
    from localrig.iam.cfn_policies import deployed_stack, resolved, template_policies

    template = load_template(PIPELINE_TEMPLATE)
    deployed = deployed_stack(_Session(client), stack, template)
    found: dict[str, Any] = {}
    for policy in resolved(deployed, template_policies(template)):
        for target in policy.attached_to or []:
            found[queue_arn(target, facts) if "://" in target else target] = policy.document
    return found


def instance_tags(client: Client) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for reservation in client("ec2").describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            tags[instance["InstanceId"]] = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return tags


class _Session:
    """cfn_policies reads attributes through ``aws.client(name)``: the rig's admin clients."""

    def __init__(self, client: Client) -> None:
        self.client = client


def load_template(path: Path) -> dict[str, Any]:
    """The template parsed as CloudFormation does (short-form intrinsics), with cfn-lint's decoder."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(path.read_text(encoding="utf-8"))
    if matches:
        raise ValueError(f"{path.name}: {matches}")
    return template


def refresh_instance_tags(run_dir: Path, client: Client) -> None:
    """The instances' tags as they are now (before the rig stops), for the conditions judged later."""
    path = run_dir / CONTEXT_FILE
    if not path.exists():
        return
    context = json.loads(path.read_text())
    if "error" not in context:
        context["instance_tags"] = instance_tags(client)
        path.write_text(json.dumps(context, indent=1, sort_keys=True))
