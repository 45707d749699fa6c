"""Why an action a part's policy grants may stay unused by every story: the one registry of written reasons.

Why a registry: issue 12 says an action no story uses either gets a story or a written reason, otherwise it
is removed. The ledger's table flags every unused action; one listed here is shown with its reason instead of
failing the run. Keys are ``service:Action`` (any part) or ``part service:Action`` (that part only). A reason
says what needs the action on AWS and why the rig cannot show it.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "logs:CreateLogGroup": "Lambda's runtime writes the function's own logs on AWS; the rig's Lambda host "
                           "prints them instead (no CloudWatch Logs client in the product)",
    "logs:CreateLogStream": "Lambda's runtime writes the function's own logs on AWS; the rig's Lambda host "
                            "prints them instead",
    "logs:PutLogEvents": "Lambda's runtime writes the function's own logs on AWS; the rig's Lambda host prints "
                         "them instead",
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


def reason_for(part: str, action: str) -> str | None:
    """The written reason for ``part`` leaving ``action`` unused (actions compare case-insensitively, as IAM's)."""
    by_key = {key.lower(): reason for key, reason in REASONS.items()}
    return by_key.get(f"{part} {action}".lower()) or by_key.get(action.lower())
