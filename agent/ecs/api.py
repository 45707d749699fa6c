"""A narrow, typed face over the boto3 ECS client: the calls a deploy makes, with errors that
name the cluster, service or revision, pagination done once, and time injected.

Keeping the raw client behind this class means the rollout logic reads as decisions, and tests
can drive it against moto server (or botocore's Stubber for sequences moto cannot model) with a
fake clock so timeouts are exercised without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.arns import parse_task_definition

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_ecs import ECSClient
else:
    ECSClient = Any

_DESCRIBE_SERVICES_MAX = 10


class DeployError(Exception):
    """A deploy step could not be done; the message names what and where."""


class TargetError(DeployError):
    """The deploy target is wrong (missing service, no matching container...): nothing was changed."""


class RolloutFailed(DeployError):
    """ECS reported the new deployment failed, rolled it back, or the service runs another revision."""


class RolloutTimeout(DeployError):
    """The deployment did not complete within the wait timeout."""


class RollbackFailed(DeployError):
    """Putting a service back on its previous revision failed too: a person must look."""


class Ecs:
    """The ECS calls a deploy needs. ``sleep``/``clock`` are injected so waits are testable."""

    def __init__(self, client: ECSClient, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.sleep = sleep
        self.clock = clock

    def _call(self, what: str, method: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, method)(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise DeployError(f"{what}: {err.get('Code', 'Error')}: {err.get('Message', exc)}") from exc
        except BotoCoreError as exc:
            raise DeployError(f"{what}: {exc}") from exc

    def describe_services(self, cluster: str, services: list[str], *,
                          require_active: bool = True) -> list[dict[str, Any]]:
        """Describe services in batches of 10 (the API's limit); a missing or inactive service is an error."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(services), _DESCRIBE_SERVICES_MAX):
            batch = services[start:start + _DESCRIBE_SERVICES_MAX]
            resp = self._call(f"describe services {', '.join(batch)} in cluster {cluster}", "describe_services",
                              cluster=cluster, services=batch)
            if resp.get("failures"):
                reasons = "; ".join(f"{f.get('arn', '?')}: {f.get('reason', '?')}" for f in resp["failures"])
                raise TargetError(f"cluster {cluster}: services not found: {reasons}")
            found.extend(resp["services"])
        for svc in found:
            if require_active and svc.get("status") != "ACTIVE":
                raise TargetError(f"service {cluster}/{svc['serviceName']} is {svc.get('status')}, not ACTIVE")
        return found

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        return self.describe_services(cluster, [service])[0]

    def describe_task_definition(self, task_definition: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition and its tags (which live outside it and only come with include=TAGS)."""
        resp = self._call(f"describe task definition {task_definition}", "describe_task_definition",
                          taskDefinition=task_definition, include=["TAGS"])
        return resp["taskDefinition"], list(resp.get("tags") or [])

    def register_task_definition(self, register_input: dict[str, Any]) -> dict[str, Any]:
        family = register_input.get("family", "?")
        resp = self._call(f"register task definition in family {family}", "register_task_definition",
                          **register_input)
        return resp["taskDefinition"]

    def update_service(self, cluster: str, service: str, task_definition: str) -> dict[str, Any]:
        resp = self._call(f"update service {cluster}/{service} to {task_definition}", "update_service",
                          cluster=cluster, service=service, taskDefinition=task_definition)
        return resp["service"]

    def deregister_task_definition(self, task_definition: str) -> None:
        self._call(f"deregister task definition {task_definition}", "deregister_task_definition",
                   taskDefinition=task_definition)

    def _paginate(self, what: str, operation: str, key: str, **params: Any) -> Iterator[str]:
        try:
            for page in self.client.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise DeployError(f"{what}: {err.get('Code', 'Error')}: {err.get('Message', exc)}") from exc
        except BotoCoreError as exc:
            raise DeployError(f"{what}: {exc}") from exc

    def list_task_definitions(self, family: str) -> list[str]:
        """ACTIVE revision ARNs of exactly ``family`` (the API's familyPrefix is a prefix match)."""
        arns = self._paginate(f"list task definitions of family {family}", "list_task_definitions",
                              "taskDefinitionArns", familyPrefix=family, status="ACTIVE")
        return [arn for arn in arns if parse_task_definition(arn).family == family]

    def list_clusters(self) -> list[str]:
        return list(self._paginate("list clusters", "list_clusters", "clusterArns"))

    def list_services(self, cluster: str) -> list[str]:
        return list(self._paginate(f"list services in cluster {cluster}", "list_services", "serviceArns",
                                   cluster=cluster))
