"""Read a stack's outputs: the single source of every ARN, URL and name the other steps record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.arns import Arn, ArnError, parse_arn
from infra import StackError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
else:
    CloudFormationClient = Any

KINDS = ("pipeline", "source")
USABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


@dataclass(frozen=True)
class StackOutputs:
    name: str
    stack_id: str
    values: dict[str, str]
    stack_arn: Arn  # partition, region and account of the stack, for ARNs the outputs do not spell out

    @property
    def kind(self) -> str:
        """``pipeline`` or ``source``: which side the stack provisions, so record knows what to write."""
        kind = self.values.get("PushdeployStackKind", "")
        if kind not in KINDS:
            raise StackError(f"stack {self.name}: output PushdeployStackKind is {kind!r}, expected one of "
                             f"{', '.join(KINDS)} (was it made from infra/pipeline.yaml or infra/source.yaml?)")
        return kind

    @property
    def partition(self) -> str:
        return self.stack_arn.partition

    @property
    def account(self) -> str:
        return self.stack_arn.account

    @property
    def region(self) -> str:
        return self.stack_arn.region

    def get(self, key: str) -> str:
        value = self.values.get(key, "")
        if not value:
            raise StackError(f"stack {self.name}: output {key} is missing (outputs: {', '.join(sorted(self.values))})")
        return value


def read_outputs(cfn: CloudFormationClient, stack: str) -> StackOutputs:
    """Outputs of a stack that finished creating or updating; anything else is an error naming the state."""
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise StackError(f"stack {stack}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise StackError(f"stack {stack}: cannot reach CloudFormation: {exc}") from exc
    if not stacks:
        raise StackError(f"stack {stack}: does not exist")
    found = stacks[0]
    status = found.get("StackStatus", "")
    if status not in USABLE_STATES:
        reason = found.get("StackStatusReason") or "see the stack's events"
        raise StackError(f"stack {stack}: status {status} ({reason}); outputs are recorded only from a complete stack")
    values = {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])}
    try:
        arn = parse_arn(found["StackId"], "cloudformation")
    except ArnError as exc:
        raise StackError(f"stack {stack}: unexpected stack id: {exc}") from exc
    return StackOutputs(found.get("StackName", stack), found["StackId"], values, arn)
