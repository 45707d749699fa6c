"""Remove one side: the Chalice stage's functions (``chalice delete``), the agent settings
parameter that ``record`` created, then the stack. Run it for the source side first."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from chalicelib.region import region_from_env
from infra import StackError
from infra.stack_outputs import StackOutputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ssm import SSMClient
else:
    CloudFormationClient = SSMClient = Any

log = logging.getLogger("infra.teardown")

CHALICE_TIMEOUT_SECONDS = 900


def chalice_delete(project: Path, stage: str, profile: str | None = None, region: str | None = None) -> None:
    """``chalice delete --stage``: removes the functions, their roles and subscriptions/rules."""
    if not (project / ".chalice" / "deployed" / f"{stage}.json").exists():
        log.info("stage %s: nothing deployed by chalice in %s, skipping chalice delete", stage, project)
        return
    chalice = Path(sys.executable).with_name("chalice")
    argv = [str(chalice) if chalice.exists() else "chalice", *(["--profile", profile] if profile else []),
            "delete", "--stage", stage]
    region = region or region_from_env()  # chalice (botocore) reads only AWS_DEFAULT_REGION
    env = dict(os.environ, **({"AWS_DEFAULT_REGION": region} if region else {}))
    log.info("stage %s: running %s", stage, " ".join(argv))
    try:
        done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                              timeout=CHALICE_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"chalice delete --stage {stage}: {exc}") from exc
    if done.returncode != 0:
        raise StackError(f"chalice delete --stage {stage} failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-2000:]}")


def delete_agent_settings(ssm: SSMClient, outputs: StackOutputs) -> None:
    name = outputs.values.get("AgentSettingsParameterName")
    if not name:
        return
    try:
        ssm.delete_parameter(Name=name)
        log.info("deleted SSM parameter %s", name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise StackError(f"SSM parameter {name}: {exc.response['Error'].get('Message', exc)}") from exc
        log.info("SSM parameter %s: already gone", name)


def delete_stack(cfn: CloudFormationClient, outputs: StackOutputs, timeout_seconds: int = 1800) -> None:
    """Delete by stack id (not name), so a same-named new stack is never hit; wait until it is gone."""
    try:
        cfn.delete_stack(StackName=outputs.stack_id)
        log.info("stack %s: deleting", outputs.name)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=outputs.stack_id, WaiterConfig={"Delay": 10, "MaxAttempts": max(timeout_seconds // 10, 1)})
    except WaiterError as exc:
        stacks = (exc.last_response or {}).get("Stacks") or [{}]
        reason = stacks[0].get("StackStatusReason") or str(exc)
        raise StackError(f"stack {outputs.name}: delete did not complete: {reason}") from exc
    except (ClientError, BotoCoreError) as exc:
        raise StackError(f"stack {outputs.name}: delete failed: {exc}") from exc
    log.info("stack %s: deleted", outputs.name)
