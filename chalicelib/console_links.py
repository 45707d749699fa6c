"""AWS console links for a notification: the commit, the ECS service's deployments, the build log.

Regions come from the ARNs in the build result where there is one; the commit link assumes the
repository lives in the pipeline's region (a BuildResult does not carry the repository's region).
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from chalicelib.arns import ArnError, parse_arn
from chalicelib.contracts import LogLocation, ServiceDeployment

CONSOLE = "https://{region}.console.aws.amazon.com"


def commit_url(repository: str, sha: str, region: Optional[str]) -> Optional[str]:
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return f"{base}/codesuite/codecommit/repositories/{quote(repository, safe='')}/commit/{sha}?region={region}"


def service_url(service: ServiceDeployment, region: Optional[str]) -> Optional[str]:
    try:
        region = parse_arn(service.new_task_definition or "", "ecs").region or region
    except ArnError:
        pass
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return (f"{base}/ecs/v2/clusters/{quote(service.cluster, safe='')}/services/"
            f"{quote(service.service, safe='')}/deployments?region={region}")


def _cloudwatch_escape(text: str) -> str:
    """The CloudWatch console's fragment format: URL-encoded twice, with '$' for '%'."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_url(log: LogLocation, region: Optional[str]) -> Optional[str]:
    region = log.region or region
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return (f"{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{_cloudwatch_escape(log.group)}/log-events/{_cloudwatch_escape(log.stream)}")
