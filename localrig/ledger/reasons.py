"""Why an action a part's policy grants may stay unused by every story: the one registry of written reasons.

Why a registry: issue 12 says an action no story uses either gets a story or a written reason, otherwise it
is removed. The ledger's table flags every unused action; one listed here is shown with its reason instead of
failing the run. Keys are ``part service:Action`` (that part only), ``Sid service:Action`` (that statement, in
any part) or ``service:Action`` (anywhere). A reason says what needs the action on AWS and why the rig cannot
show it.
"""

from __future__ import annotations

from collections.abc import Iterable

_LAMBDA_LOGS = ("Lambda's runtime writes each function's own log group on AWS (not the function's code); the "
                "rig's Lambda host prints the functions' logs instead")

REASONS: dict[str, str] = {
    "WriteOwnLogs logs:CreateLogGroup": _LAMBDA_LOGS,
    "WriteOwnLogs logs:CreateLogStream": _LAMBDA_LOGS,
    "WriteOwnLogs logs:PutLogEvents": _LAMBDA_LOGS,
    "OwnSettings ssm:GetParameter": "the builder unit's start reads agent.toml with the AWS CLI (infra/pipeline.yaml "
                                    "user data, before every start); the rig writes agent.toml itself",
    "builder sts:AssumeRole": "on AWS git-remote-codecommit assumes the source account's GitPullRole to fetch; the "
                              "rig's CodeCommit is a local bare repository (moto has no CodeCommit git endpoint). "
                              "tests/iam/test_iam_git_pull_role.py decides that hop from both templates",
    "builder ecr:BatchCheckLayerAvailability": "docker push to ECR (registry API, not botocore): the rig "
                                               "pushes to a real registry that stands in for ECR",
    "builder ecr:InitiateLayerUpload": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:UploadLayerPart": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:CompleteLayerUpload": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:PutImage": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:BatchGetImage": "docker pull from ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:GetDownloadUrlForLayer": "docker pull from ECR (registry API, not botocore): stood in by a real "
                                          "registry",
    # every function's role: what `python -m infra failure-destinations` adds on AWS
    "AsyncFailureDestination sqs:SendMessage": (
        "Lambda sends an asynchronous invocation's event to the failure queue with the function's role, only "
        "after the invocation and its retries failed; the stories fail some functions' invocations (notify's, "
        "Slack down), and infra failure-destinations grants it to every function of the stage alike"),
    "build_start sqs:GetQueueAttributes": (
        "Lambda's SQS event source mapping requires ReceiveMessage, DeleteMessage and GetQueueAttributes of the "
        "execution role and checks the queue with it when the mapping is created; the rig's mapping "
        "(localrig/lambdas/sqs_source.py) is created by the rig, so only the first two appear as build_start's calls"),
    "dashboard_auth ssm:GetParameter": (
        "API Gateway runs this authorizer before the dashboard's read routes on AWS; chalice local has no "
        "authorizer (the local stage says PUSHDEPLOY_API_AUTH=none). tests/test_dashboard_auth.py and "
        "tests/test_dashboard_token.py read the token parameter through it against moto"),
    "api_handler dynamodb:DeleteItem": (
        "a webhook delivery is forgotten when its publish fails, so the provider's retry is taken "
        "(chalicelib/webhooks/ledger.py); no rig story fails SNS under a webhook: "
        "tests/webhooks/test_webhook_publish_failure.py does, against moto"),
    "builder sqs:GetQueueUrl": (
        "the agent finds the dead-letter queue from the build queue's RedrivePolicy only when agent.toml names "
        "none (agent/queue/build_queue.py); the rig's settings name it, as infra record writes them. "
        "tests/agent/test_run_unservable.py covers the lookup against moto"),
    "builder secretsmanager:GetSecretValue": (
        "a hosted repository's token may live in Secrets Manager or in SSM (agent/git/credentials.py reads "
        "either); the rig's hosted stories keep it in SSM. tests/git/test_fetch_with_token.py fetches with a "
        "token from each store against moto"),
    "builder ecs:DeregisterTaskDefinition": (
        "pruning deregisters a family's revisions beyond keep_revisions (10 by default, as in the rig's "
        "settings); no story registers more than 10 revisions of a family. tests/agent/test_deploy_cleanup.py "
        "prunes against moto"),
    "reconcile sqs:TagQueue": (
        "the reconcile tags the build queue when a request has waited STALE_REQUEST_MINUTES (30 by default, "
        "which the rig keeps): no story waits that long; tests/test_reconcile.py covers it against moto"),
    "reconcile sqs:UntagQueue": (
        "the reconcile clears its stale-request tag when the queue has moved again after STALE_REQUEST_MINUTES "
        "(30): no story waits that long; tests/test_reconcile.py covers it against moto"),
    "reconcile ec2:StopInstances": (
        "the reconcile stops a builder whose agent was idle or silent for BUILDER_IDLE_MINUTES (15 by default, "
        "which the rig keeps); in the stories close stops every builder first. tests/test_reconcile.py covers "
        "both rules against moto"),
}


def reason_key(part: str, statement: str, action: str) -> str | None:
    """The registry key that gives ``part`` its reason for leaving ``action`` of ``statement`` unused: the most
    specific one (part, then statement, then the action anywhere), compared case-insensitively."""
    keys = {key.lower(): key for key in REASONS}
    return next((keys[k.lower()] for k in (f"{part} {action}", f"{statement} {action}", action)
                 if k.lower() in keys), None)


def reason_for(part: str, statement: str, action: str) -> str | None:
    key = reason_key(part, statement, action)
    return REASONS[key] if key else None


def stale_reasons(unused: Iterable[tuple[str, str, str]]) -> list[str]:
    """Registry keys that give no unused (part, statement, action) its reason: the action got a story or left the
    policy, so the reason now says something untrue. Meaningful only for a run of every story."""
    given = {reason_key(*entry) for entry in unused}
    return [key for key in REASONS if key not in given]
