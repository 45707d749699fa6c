"""The builder EC2 instance: read its state and tags, start it, stop it.

Every start/stop goes through ``Instance.refusal`` first, so a wrong id in a message or in the
settings can never start or stop a machine that is not tagged as the builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.errors import AwsCallError

RUNNING = ("pending", "running")

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    tags: dict[str, str]
    launch_time: Optional[datetime] = None  # when EC2 last started it (a start resets it): a just-booted agent's grace

    def refusal(self, expected_id: str, tag: tuple[str, str]) -> Optional[str]:
        """Why this instance must not be touched, or None when it is the configured builder."""
        if self.instance_id != expected_id:
            return f"{self.instance_id} is not the configured builder {expected_id}"
        key, value = tag
        if self.tags.get(key) != value:
            return f"{self.instance_id} lacks the builder tag {key}={value} (has {key}={self.tags.get(key)!r})"
        return None

    def start_check(self, expected_id: str, tag: tuple[str, str]) -> tuple[str, str]:
        """(verdict, why) for starting this instance now: "startable", "refused", "already-running" or
        "stopping". Shared by build_start and reconcile so both treat every EC2 state the same way."""
        refusal = self.refusal(expected_id, tag)
        if refusal:
            return "refused", refusal
        if self.state in RUNNING:
            return "already-running", f"builder {self.instance_id} already {self.state}"
        if self.state == "stopping":
            return "stopping", f"builder {self.instance_id} is stopping"
        if self.state != "stopped":
            return "refused", f"builder {self.instance_id} is {self.state} and cannot be started"
        return "startable", f"builder {self.instance_id} is stopped"


class Builder:
    def __init__(self, ec2: EC2Client, instance_id: str, tag: tuple[str, str]) -> None:
        self._ec2 = ec2
        self.instance_id = instance_id
        self.tag = tag

    def describe(self) -> Instance:
        wanted = self.instance_id
        try:
            response = self._ec2.describe_instances(InstanceIds=[wanted])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"describing instance {wanted}") from exc
        found = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
        if not found:
            raise AwsCallError(f"instance {wanted} not found")
        data = found[0]
        tags = {t["Key"]: t["Value"] for t in data.get("Tags", [])}
        launched = data.get("LaunchTime")
        return Instance(data["InstanceId"], data["State"]["Name"], tags,
                        launched if isinstance(launched, datetime) else None)

    def start(self) -> None:
        try:
            self._ec2.start_instances(InstanceIds=[self.instance_id])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"starting builder {self.instance_id}") from exc

    def stop(self) -> None:
        try:
            self._ec2.stop_instances(InstanceIds=[self.instance_id])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"stopping builder {self.instance_id}") from exc
