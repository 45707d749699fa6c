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
