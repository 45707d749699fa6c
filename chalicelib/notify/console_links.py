"""AWS console links for a notification: the commit, the ECS service's deployments, the build log.

Regions come from the ARNs in the build result where there is one; the commit link assumes the
repository lives in the pipeline's region (a BuildResult does not carry the repository's region).
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import quote as _quote

from chalicelib.arns import ArnError, parse_arn
from chalicelib.contracts import LogLocation, ServiceDeployment

CONSOLE = "https://{region}.console.aws.amazon.com"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")


def _region(*candidates: Optional[str]) -> Optional[str]:
    """The first candidate shaped like an AWS region: a region is pasted into the URL as is, and the URL
    into a Slack link, so anything else (from a message) could break or forge the link."""
    return next((r for r in candidates if isinstance(r, str) and _REGION.fullmatch(r)), None)


def quote(text: str, safe: str = "") -> str:
    """URL-encode; a lone surrogate (valid in JSON, not in UTF-8) becomes '?' instead of an exception."""
    return _quote(text, safe=safe, errors="replace")


def commit_url(repository: str, sha: str, region: Optional[str]) -> Optional[str]:
    region = _region(region)
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return f"{base}/codesuite/codecommit/repositories/{quote(repository, safe='')}/commit/{sha}?region={region}"


def service_url(service: ServiceDeployment, region: Optional[str]) -> Optional[str]:
    try:
        region = _region(parse_arn(service.new_task_definition or "", "ecs").region, region)
    except ArnError:
        region = _region(region)
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return (f"{base}/ecs/v2/clusters/{quote(service.cluster, safe='')}/services/"
            f"{quote(service.service, safe='')}/deployments?region={region}")


def _cloudwatch_escape(text: str) -> str:
    """The CloudWatch console's fragment format: URL-encoded twice, with '$' for '%'."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def log_url(log: LogLocation, region: Optional[str]) -> Optional[str]:
    region = _region(log.region, region)
    if not region:
        return None
    base = CONSOLE.format(region=region)
    return (f"{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{_cloudwatch_escape(log.group)}/log-events/{_cloudwatch_escape(log.stream)}")
