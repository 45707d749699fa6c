"""Run moto in server mode with fidelity fixes for ECS rollouts, SNS http deliveries and API Gateway imports.

moto keeps a service's ``deployments`` list as it was at ``create_service``: after
``update_service`` to a new task definition the PRIMARY deployment still names the old
revision, so no real rollout check could ever pass. Real ECS starts a new PRIMARY deployment
for the new revision and keeps the old one as ACTIVE until it drains. This module patches
``update_service`` to do the same (COMPLETED at once when ``MOTO_ECS_SERVICE_RUNNING`` covers
the desired count, IN_PROGRESS otherwise), then runs the ordinary moto server.

SNS: moto's ``http``/``https`` delivery drops the message attributes that real SNS puts in the
notification (``MessageAttributes: {name: {Type, Value}}``); subscribers that filter or route on
them (the close topic's ``type``) need them. ``install_sns_http_attributes_patch`` passes them on.
moto also posts to the endpoint inside ``Publish``, so a publisher waits for the subscriber (and gets a
500 if it is down); SNS stores the message, answers, and delivers afterwards. The patch does the same:
deliveries go to one background sender, in the order they were published.

API Gateway: ``localrig.aws.apigateway`` lets `chalice deploy` of a stage with routes import its Swagger 2.0
document with its sigv4 security, as API Gateway does.

EC2: ``localrig.aws.launch_templates`` makes a stack's ``AWS::EC2::Instance`` launch from its ``LaunchTemplate``
(the pipeline template describes a builder once and makes the pool from it), as EC2 does.

SQS/SNS FIFO: ``localrig.aws.fifo`` keeps a deduplication id for five minutes after its first send, even once that
message is deleted, and makes FIFO topics deduplicate too, as SQS and SNS do.

Usage: ``python -m localrig.aws.server -H 127.0.0.1 -p PORT`` (moto_server's own options).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from localrig.aws import apigateway, dynamodb, fifo, iam, launch_templates, metrics, sqs_receive
from localrig.aws.faults import install_fault_hooks


def _running_count() -> int:
    try:
        return max(int(os.environ.get("MOTO_ECS_SERVICE_RUNNING", "0")), 0)
    except ValueError:
        return 0


def _new_deployment(service: Any, old: dict[str, Any]) -> dict[str, Any]:
    from moto.core.utils import utcnow
    from moto.moto_api._internal import mock_random

    running = _running_count()
    completed = running >= service.desired_count
    deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
    now = utcnow()
    new = dict(old)
    new.update(
        id=deployment_id,
        status="PRIMARY",
        taskDefinition=service.task_definition,
        desiredCount=service.desired_count,
        runningCount=min(running, service.desired_count),
        pendingCount=max(service.desired_count - running, 0),
        failedTasks=0,
        rolloutState="COMPLETED" if completed else "IN_PROGRESS",
        rolloutStateReason=f"ECS deployment {deployment_id} {'completed' if completed else 'in progress'}.",
        createdAt=now,
        updatedAt=now,
    )
    return new


def install_ecs_rollout_patch() -> None:
    """Make update_service start a new PRIMARY deployment, as ECS does."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service
    if getattr(original, "_pushdeploy_patched", False):
        return

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        cluster = service_properties.get("cluster", "default")
        name = service_properties.get("service", "").split("/")[-1]
        before = self._get_service(cluster, name).task_definition
        service = original(self, service_properties)
        changed = service.task_definition != before
        if service.deployments and (changed or service_properties.get("force_new_deployment")):
            primary = _new_deployment(service, service.deployments[0])
            done = primary["rolloutState"] == "COMPLETED"
            old = [] if done else [dict(d, status="ACTIVE") for d in service.deployments[:1]]
            service.deployments = [primary, *old]
            service.running_count = primary["runningCount"]
            service.pending_count = primary["pendingCount"]
        return service

    update_service._pushdeploy_patched = True  # type: ignore[attr-defined]
    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]


class _HttpDeliveries:
    """SNS's http(s) deliveries, made after ``Publish`` has answered, one at a time in publish order."""

    def __init__(self) -> None:
        import queue

        self._queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def start(self) -> None:
        import threading

        threading.Thread(target=self._run, name="sns-http-deliveries", daemon=True).start()

    def send(self, endpoint: str, post_data: dict[str, Any]) -> None:
        self._queue.put((endpoint, post_data))

    def _run(self) -> None:
        import requests

        while True:
            endpoint, post_data = self._queue.get()
            try:
                requests.post(endpoint, json=post_data, headers={"Content-Type": "text/plain; charset=UTF-8"},
                              timeout=30)
            except requests.RequestException as exc:
                print(f"sns: http delivery to {endpoint} failed: {exc}", file=sys.stderr, flush=True)


_HTTP_DELIVERIES = _HttpDeliveries()


def install_sns_http_attributes_patch() -> None:
    """Deliver message attributes to http(s) subscribers, after Publish has answered, as SNS does."""
    from moto.sns.models import Subscription

    original = Subscription.publish
    if getattr(original, "_pushdeploy_patched", False):
        return
    _HTTP_DELIVERIES.start()

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        if self.protocol not in ("http", "https"):
            return original(self, message, message_id, subject=subject, message_attributes=message_attributes,
                            group_id=group_id, deduplication_id=deduplication_id,
                            message_structure=message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes,
                                                                                                message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        post_data = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
        _HTTP_DELIVERIES.send(self.endpoint, post_data)
        return None

    publish._pushdeploy_patched = True  # type: ignore[attr-defined]
    Subscription.publish = publish  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    install_ecs_rollout_patch()
    install_sns_http_attributes_patch()
    metrics.install()  # SQS's age-of-oldest-message metric, EC2's LaunchTime on start (the reconcile reads both)
    install_fault_hooks()
    sqs_receive.install()  # one FIFO message group to one consumer at a time, under concurrent receives
    apigateway.install()  # ImportRestApi/PutRestApi take chalice's Swagger 2.0 and its sigv4 security, as AWS does
    dynamodb.install()  # a Query's cost depends on its page, not the table's size, as DynamoDB's does
    launch_templates.install()  # a stack's AWS::EC2::Instance launches from its LaunchTemplate, as EC2 does
    iam.install()  # SNS's SubscribeURL answers unsigned under IAM enforcement, as on AWS
    fifo.install()  # FIFO deduplication lasts five minutes from the first send (deleted or not), as in SQS/SNS
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
