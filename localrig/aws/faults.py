"""Faults and fidelity fixes for the rig's moto server that moto cannot do by itself.

The rig turns faults on and off while moto runs by rewriting one JSON file (``FaultSwitch``); the
patched moto reads it on every call it affects, so a change applies to the next call. The file's
path comes from the ``PUSHDEPLOY_RIG_FAULTS`` environment variable of the moto process; without it
(or with an empty file) every hook behaves like plain moto plus the fidelity fixes.

Keys (all optional):

- ``ecs_register_error``: text; RegisterTaskDefinition answers ``ClientException`` with it.
- ``ecs_update_error``: text; UpdateService answers ``ClientException`` with it.
- ``ecs_rollouts_stuck``: true; a rollout to a task definition the service never ran to completion
  stays ``IN_PROGRESS`` with 0 tasks running (the new image's tasks never become healthy) while the
  previous deployment keeps running. A rollout back to a revision that ran (a rollback) completes.
  Switching it off lets the stuck rollouts finish (the tasks start after all), seen at the next
  DescribeServices.
- ``ec2_stopping_seconds``: number; StopInstances leaves the instance ``stopping`` that long before
  it is ``stopped``, as EC2 does while the OS shuts down (plain moto stops at once). Always on, as on
  EC2: StartInstances on a ``stopping`` instance is refused with ``IncorrectInstanceState``.
- ``sqs_receive_answer_lost``: a token (any text); the next ReceiveMessage that gives messages while it is set
  is carried out (the messages are in flight, their receive counted), but its answer is lost on the way back:
  the client gets a bare HTTP 500, as from a load balancer whose connection to SQS dropped. Once per token.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any

ENV_FAULTS_FILE = "PUSHDEPLOY_RIG_FAULTS"


class FaultSwitch:
    """The rig's side: write the faults file atomically (the moto process reads it on each call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._faults: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._write()

    def set(self, **faults: Any) -> None:
        """Turn faults on (a value) or off (None)."""
        with self._lock:
            for key, value in faults.items():
                if value is None:
                    self._faults.pop(key, None)
                else:
                    self._faults[key] = value
            self._write()

    def clear(self) -> None:
        with self._lock:
            self._faults = {}
            self._write()

    def active(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._faults)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._faults))
        tmp.replace(self.path)


def current_faults() -> dict[str, Any]:
    """The moto side: the faults now on (none when no file is configured or it does not parse)."""
    path = os.environ.get(ENV_FAULTS_FILE)
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- ECS

_completed: set[str] = set()  # task definitions some service ran to completion: a rollback to them completes
_stuck: set[str] = set()  # deployment ids held IN_PROGRESS by ecs_rollouts_stuck


def _ecs_error(message: str) -> Exception:
    from moto.ecs.exceptions import EcsClientException

    return EcsClientException(message)


def _remember_completed(service: Any) -> None:
    for deployment in service.deployments or []:
        if deployment.get("status") == "PRIMARY" and deployment.get("rolloutState", "COMPLETED") == "COMPLETED":
            _completed.add(deployment.get("taskDefinition") or service.task_definition)


def _hold(service: Any) -> None:
    """Keep the new PRIMARY deployment at 0 running; the previous one keeps serving (ACTIVE)."""
    primary, *others = service.deployments
    if primary.get("taskDefinition") in _completed or primary.get("id") in _stuck:
        return
    if not others:
        others = [dict(primary, id=f"{primary['id']}-previous", status="ACTIVE",
                       taskDefinition=service._pushdeploy_before, runningCount=service.desired_count,
                       pendingCount=0, rolloutState="COMPLETED")]
    primary.update(rolloutState="IN_PROGRESS", runningCount=0, pendingCount=service.desired_count,
                   rolloutStateReason=f"ECS deployment {primary['id']} in progress.")
    service.deployments = [primary, *others]
    service.running_count, service.pending_count = others[0].get("runningCount", 0), service.desired_count
    _stuck.add(primary["id"])


def _heal(service: Any) -> None:
    """The fault is off: the stuck rollout finishes (its tasks started after all)."""
    primary = (service.deployments or [{}])[0]
    if primary.get("id") not in _stuck:
        return
    _stuck.discard(primary["id"])
    primary.update(rolloutState="COMPLETED", runningCount=service.desired_count, pendingCount=0,
                   rolloutStateReason=f"ECS deployment {primary['id']} completed.")
    service.deployments = [primary]
    service.running_count, service.pending_count = service.desired_count, 0


def install_ecs_faults() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    register, update, describe = (EC2ContainerServiceBackend.register_task_definition,
                                  EC2ContainerServiceBackend.update_service,
                                  EC2ContainerServiceBackend.describe_services)

    def register_task_definition(self: Any, *args: Any, **kwargs: Any) -> Any:
        message = current_faults().get("ecs_register_error")
        if message:
            raise _ecs_error(str(message))
        return register(self, *args, **kwargs)

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        message = current_faults().get("ecs_update_error")
        if message:
            raise _ecs_error(str(message))
        cluster = service_properties.get("cluster", "default")
        before = self._get_service(cluster, service_properties.get("service", "").split("/")[-1])
        _remember_completed(before)
        previous = before.task_definition
        service = update(self, service_properties)
        service._pushdeploy_before = previous
        if current_faults().get("ecs_rollouts_stuck") and service.deployments:
            _hold(service)
        return service

    def describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
        services, failures = describe(self, cluster_str, names)
        if not current_faults().get("ecs_rollouts_stuck"):
            for service in services:
                _heal(service)
        return services, failures

    EC2ContainerServiceBackend.register_task_definition = register_task_definition  # type: ignore[method-assign]
    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_services = describe_services  # type: ignore[method-assign]


# ---------------------------------------------------------------- EC2


def _incorrect_state(instance_id: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("IncorrectInstanceState",
                          f"The instance '{instance_id}' is not in a state from which it can be started.")


def install_ec2_stopping() -> None:
    from moto.ec2.models.instances import Instance

    stop, start = Instance.stop, Instance.start

    def stopping_stop(self: Any) -> Any:
        previous = copy.copy(self._state)
        if self._state.name == "stopping":
            return previous  # EC2 accepts a second stop of a stopping instance
        seconds = float(current_faults().get("ec2_stopping_seconds") or 0)
        if seconds <= 0:
            return stop(self)
        self._state.name, self._state.code = "stopping", 64

        def stopped() -> None:
            if self._state.name == "stopping":
                stop(self)

        timer = threading.Timer(seconds, stopped)
        timer.daemon = True
        timer.start()
        return previous

    def refusing_start(self: Any) -> Any:
        if self._state.name == "stopping":
            raise _incorrect_state(self.id)
        return start(self)

    Instance.stop = stopping_stop  # type: ignore[method-assign]
    Instance.start = refusing_start  # type: ignore[method-assign]


# ---------------------------------------------------------------- SQS

_lost: set[str] = set()  # sqs_receive_answer_lost tokens already spent


class AnswerLost(Exception):
    """Not an SQS error: the moto server turns it into a bare 500, the answer the client never got."""


def install_sqs_answer_lost() -> None:
    from moto.sqs.responses import SQSResponse

    original = SQSResponse.receive_message

    def receive_message(self: Any) -> Any:
        answer = original(self)
        token = current_faults().get("sqs_receive_answer_lost")
        if token and token not in _lost and (getattr(answer, "result", None) or {}).get("Messages"):
            _lost.add(str(token))
            raise AnswerLost(f"the answer to this receive was lost (fault {token})")
        return answer

    SQSResponse.receive_message = receive_message  # type: ignore[method-assign]


def install_fault_hooks() -> None:
    """Everything above, on top of server.py's fidelity patches (call after them)."""
    install_ecs_faults()
    install_ec2_stopping()
    install_sqs_answer_lost()
