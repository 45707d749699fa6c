"""Parse AWS ARNs instead of slicing strings at call sites.

Links in notifications (ECS service, task-definition revision) and the agent's deploy steps
need the region, account, family or revision out of an ARN; one tested parser keeps every
caller honest about formats with slashes and colons in the resource part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ECS revisions are positive integers (a family stops at 1,000,000); ten ASCII digits is room enough, and
# int() is never handed non-ASCII digits ('²' passes str.isdigit) or thousands of them (ValueError).
_REVISION_RE = re.compile(r"[0-9]{1,10}")


class ArnError(ValueError):
    """Not an ARN of the expected form; the message quotes it."""


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        """``task-definition`` in ``task-definition/web:3``; "" for untyped resources (SNS topics)."""
        for sep in ("/", ":"):
            if sep in self.resource:
                return self.resource.split(sep, 1)[0]
        return ""

    @property
    def resource_id(self) -> str:
        """``web:3`` in ``task-definition/web:3``; the topic name for an SNS ARN."""
        kind = self.resource_type
        return self.resource[len(kind) + 1:] if kind else self.resource

    @property
    def resource_name(self) -> str:
        """``web`` in ``service/production-cluster/web``: ECS, IAM and Lambda names hold no '/', so the
        last path segment is the name whether or not the ARN also names a parent (cluster, path)."""
        return self.resource_id.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str, service: str | None = None) -> Arn:
    """Split an ARN into its six parts; ``service`` (e.g. "sns") is checked when given."""
    if not isinstance(text, str):
        raise ArnError(f"not an ARN: {type(text).__name__}")
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise ArnError(f"not an ARN: {text[:300]!r}")
    arn = Arn(parts[1], parts[2], parts[3], parts[4], parts[5])
    if service is not None and arn.service != service:
        raise ArnError(f"expected an {service} ARN, got {text[:300]!r}")
    return arn


@dataclass(frozen=True)
class TaskDefinitionRef:
    family: str
    revision: int

    def __str__(self) -> str:
        return f"{self.family}:{self.revision}"


def parse_task_definition(text: str) -> TaskDefinitionRef:
    """``family:revision`` from a task-definition ARN or a ``family:revision`` string."""
    if not isinstance(text, str):
        raise ArnError(f"expected a task-definition ARN or family:revision, got {type(text).__name__}")
    resource = text
    if text.startswith("arn:"):
        arn = parse_arn(text, "ecs")
        if arn.resource_type != "task-definition":
            raise ArnError(f"expected a task-definition ARN, got {text[:300]!r}")
        resource = arn.resource_id
    family, sep, revision = resource.rpartition(":")
    if not sep or not family or not _REVISION_RE.fullmatch(revision):
        raise ArnError(f"expected family:revision with a revision of 1-10 ASCII digits in {text[:300]!r}")
    return TaskDefinitionRef(family, int(revision))
