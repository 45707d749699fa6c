"""Send the stage's failed asynchronous invocations to the stack's failure queue.

SNS and EventBridge invoke the functions asynchronously; after Lambda's retries an event is
dropped unless the function has an on-failure destination. Chalice has no setting for it, so
this runs after ``chalice deploy``. The destination is only accepted when the function's role
may send to the queue, so the roles Chalice manages get one inline policy for exactly that
(``chalice delete`` removes inline policies with the role).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from infra import ProjectFileError, StackError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
else:
    IAMClient = LambdaClient = Any

log = logging.getLogger("infra.failure_destinations")

POLICY_NAME = "pushdeploy-failure-destination"
MAX_RETRY_ATTEMPTS = 2           # Lambda's default, stated so the configuration is explicit
MAX_EVENT_AGE_SECONDS = 6 * 3600  # Lambda's default


@dataclass(frozen=True)
class DeployedStage:
    functions: tuple[str, ...]   # function ARNs
    managed_roles: tuple[str, ...]  # role names Chalice created (and deletes)


def read_deployed(project: Path, stage: str) -> DeployedStage:
    """What ``chalice deploy --stage`` recorded in .chalice/deployed/<stage>.json."""
    path = project / ".chalice" / "deployed" / f"{stage}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectFileError(f"{path}: not found - run `chalice deploy --stage {stage}` first") from None
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    resources = data.get("resources") if isinstance(data, dict) else None
    if not isinstance(resources, list):
        raise ProjectFileError(f"{path}: resources: expected a list (written by chalice deploy)")
    functions = tuple(r["lambda_arn"] for r in resources
                      if isinstance(r, dict) and r.get("resource_type") == "lambda_function" and r.get("lambda_arn"))
    roles = tuple(r["role_name"] for r in resources
                  if isinstance(r, dict) and r.get("resource_type") == "iam_role" and r.get("role_name"))
    if not functions:
        raise ProjectFileError(f"{path}: no lambda_function resources - did `chalice deploy --stage {stage}` succeed?")
    return DeployedStage(functions, roles)


def send_policy(queue_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AsyncFailureDestination", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]}


def apply_failure_destinations(lam: LambdaClient, iam: IAMClient, deployed: DeployedStage, queue_arn: str,
                               timeout: float = 120) -> None:
    for role in deployed.managed_roles:
        _call(f"role {role}", iam.put_role_policy, RoleName=role, PolicyName=POLICY_NAME,
              PolicyDocument=json.dumps(send_policy(queue_arn)))
        log.info("role %s may send to %s (inline policy %s)", role, queue_arn, POLICY_NAME)
    for function in deployed.functions:
        _put_destination(lam, function, queue_arn, timeout)
        log.info("function %s: failed async invocations go to %s", function, queue_arn)


def _put_destination(lam: LambdaClient, function: str, queue_arn: str, timeout: float) -> None:
    """IAM changes take seconds to reach Lambda, which rejects the destination until then: poll."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lam.put_function_event_invoke_config(
                FunctionName=function, MaximumRetryAttempts=MAX_RETRY_ATTEMPTS,
                MaximumEventAgeInSeconds=MAX_EVENT_AGE_SECONDS,
                DestinationConfig={"OnFailure": {"Destination": queue_arn}})
            return
        except ClientError as exc:
            error = exc.response.get("Error", {})
            waiting_for_iam = error.get("Code") == "InvalidParameterValueException" and \
                "permission" in error.get("Message", "").lower()
            if not waiting_for_iam or time.monotonic() > deadline:
                raise StackError(f"function {function}: {error.get('Message', exc)}") from exc
            time.sleep(3)
        except BotoCoreError as exc:
            raise StackError(f"function {function}: cannot reach Lambda: {exc}") from exc


def _call(what: str, method: Any, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        raise StackError(f"{what}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise StackError(f"{what}: {exc}") from exc
