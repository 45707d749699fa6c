"""Create a stack from one of the templates and return its outputs: what the local rig (and the
tests) do instead of `aws cloudformation deploy`, so both run the same templates as AWS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from infra import StackError
from infra.stack_outputs import StackOutputs, read_outputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
else:
    CloudFormationClient = Any

TEMPLATES = Path(__file__).resolve().parent
PIPELINE_TEMPLATE = TEMPLATES / "pipeline.yaml"
SOURCE_TEMPLATE = TEMPLATES / "source.yaml"


def create_stack(cfn: CloudFormationClient, name: str, template: Path, parameters: Mapping[str, str],
                 timeout_seconds: int = 1800) -> StackOutputs:
    """Create the stack, wait until it is complete (polling), return its outputs."""
    try:
        cfn.create_stack(StackName=name, TemplateBody=template.read_text(encoding="utf-8"),
                         Capabilities=["CAPABILITY_NAMED_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
        cfn.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": max(timeout_seconds // 2, 1)})
    except WaiterError as exc:
        stacks = (exc.last_response or {}).get("Stacks") or [{}]
        raise StackError(f"stack {name}: {stacks[0].get('StackStatus', 'not created')}: "
                         f"{stacks[0].get('StackStatusReason') or exc}") from exc
    except (ClientError, BotoCoreError) as exc:
        raise StackError(f"stack {name}: create failed: {exc}") from exc
    return read_outputs(cfn, name)


def deploy_stack(cfn: CloudFormationClient, name: str, template: Path, parameters: Mapping[str, str],
                 timeout_seconds: int = 1800) -> tuple[str, StackOutputs]:
    """What `aws cloudformation deploy` does: create the stack, or update it (parameters not given keep their
    previous value), or report "no changes"; wait; return (what happened, outputs). A re-run converges."""
    found = _describe(cfn, name)
    if found is None:
        return "created", create_stack(cfn, name, template, parameters, timeout_seconds)
    status = found.get("StackStatus", "")
    if status.endswith("_IN_PROGRESS"):
        raise StackError(f"stack {name}: {status}: wait until it finishes (aws cloudformation wait), then run again")
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED"):
        why = found.get("StackStatusReason") or "see its events"
        raise StackError(f"stack {name}: {status} (its creation failed: {why}); delete it "
                         f"(aws cloudformation delete-stack --stack-name {name}), then run again")
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    kept = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in found.get("Parameters", [])
            if p["ParameterKey"] not in parameters]
    try:
        cfn.update_stack(StackName=name, TemplateBody=template.read_text(encoding="utf-8"),
                         Capabilities=["CAPABILITY_NAMED_IAM"], Parameters=given + kept)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "No updates are to be performed" in message:
            return "no changes", read_outputs(cfn, name)
        raise StackError(f"stack {name}: update refused: {message}") from exc
    except BotoCoreError as exc:
        raise StackError(f"stack {name}: cannot reach CloudFormation: {exc}") from exc
    _wait(cfn, name, "stack_update_complete", timeout_seconds)
    return "updated", read_outputs(cfn, name)


def _describe(cfn: CloudFormationClient, name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise StackError(f"stack {name}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise StackError(f"stack {name}: cannot reach CloudFormation: {exc}") from exc
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def _wait(cfn: CloudFormationClient, name: str, waiter: str, timeout_seconds: int) -> None:
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 2,
                                                                  "MaxAttempts": max(timeout_seconds // 2, 1)})
    except WaiterError as exc:
        stacks = (exc.last_response or {}).get("Stacks") or [{}]
        raise StackError(f"stack {name}: {stacks[0].get('StackStatus', 'unknown')}: "
                         f"{stacks[0].get('StackStatusReason') or exc}") from exc
