"""Why an action a part's policy grants may stay unused by every story: the one registry of written reasons.

Why a registry: issue 12 says an action no story uses either gets a story or a written reason, otherwise it
is removed. The ledger's table flags every unused action; one listed here is shown with its reason instead of
failing the run. Keys are ``part service:Action`` (that part only), ``Sid service:Action`` (that statement, in
any part) or ``service:Action`` (anywhere). A reason says what needs the action on AWS and why the rig cannot
show it.
"""

from __future__ import annotations

_LAMBDA_LOGS = ("Lambda's runtime writes each function's own log group on AWS (not the function's code); the "
                "rig's Lambda host prints the functions' logs instead")

REASONS: dict[str, str] = {
    "WriteOwnLogs logs:CreateLogGroup": _LAMBDA_LOGS,
    "WriteOwnLogs logs:CreateLogStream": _LAMBDA_LOGS,
    "WriteOwnLogs logs:PutLogEvents": _LAMBDA_LOGS,
    "OwnSettings ssm:GetParameter": "the builder unit's start reads agent.toml with the AWS CLI (infra/pipeline.yaml "
                                    "user data, before every start); the rig writes agent.toml itself",
    "builder sts:AssumeRole": "on AWS git-remote-codecommit assumes the source account's GitPullRole to fetch; the "
                              "rig's CodeCommit is a local bare repository",
    "builder ecr:BatchCheckLayerAvailability": "docker push to ECR (registry API, not botocore): the rig "
                                               "pushes to a real registry that stands in for ECR",
    "builder ecr:InitiateLayerUpload": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:UploadLayerPart": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:CompleteLayerUpload": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:PutImage": "docker push to ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:BatchGetImage": "docker pull from ECR (registry API, not botocore): stood in by a real registry",
    "builder ecr:GetDownloadUrlForLayer": "docker pull from ECR (registry API, not botocore): stood in by a real "
                                          "registry",
}


def reason_for(part: str, statement: str, action: str) -> str | None:
    """The written reason for ``part`` leaving ``action`` of ``statement`` unused (compared case-insensitively)."""
    by_key = {key.lower(): reason for key, reason in REASONS.items()}
    return next((by_key[k.lower()] for k in (f"{part} {action}", f"{statement} {action}", action)
                 if k.lower() in by_key), None)
