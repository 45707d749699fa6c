"""Rig fidelity fixes for what the reconcile function reads: SQS's CloudWatch metric and EC2's LaunchTime.

- SQS publishes ``AWS/SQS ApproximateAgeOfOldestMessage`` (dimension ``QueueName``) to CloudWatch every
  minute; moto's SQS publishes nothing, so the reconcile could never see a stale request in the rig.
  ``SqsAgeMetrics`` is a moto ``CloudWatchMetricProvider`` (the hook moto's S3 uses for its storage
  metrics): each CloudWatch read gets one datapoint per queue of that account and region, at the
  current minute, computed from moto's own SQS backend. As SQS does, the age is that of the oldest
  message not yet deleted (waiting, in flight or delayed), skipping messages received more than three
  times while younger ones exist, and 0 for an empty queue.
- EC2 sets an instance's ``LaunchTime`` again each time it starts a stopped instance; moto keeps the
  time the instance was created, so a builder started in the rig would look "launched hours ago" and
  its agent silent from the first second. ``install`` makes a start reset it, as EC2 does.

Installed in the moto server child by ``localrig/aws/server.py`` (one call, ``install()``); tests that
run moto in-process call it too. Neither change makes moto kinder than AWS: both only report what AWS reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

NAMESPACE = "AWS/SQS"
AGE_METRIC = "ApproximateAgeOfOldestMessage"
RECEIVES_BEFORE_SKIPPED = 3  # SQS: a message received more than three times stops counting while others wait


def oldest_age_seconds(messages: list[Any], now_ms: int) -> float:
    """The metric's value for a queue holding ``messages`` (moto Message objects) at ``now_ms``."""
    if not messages:
        return 0.0
    fresh = [m for m in messages if m.approximate_receive_count <= RECEIVES_BEFORE_SKIPPED] or messages
    oldest = min(int(m.sent_timestamp or now_ms) for m in fresh)
    return max(now_ms - oldest, 0) / 1000.0


def _datapoints(account_id: str, region: str) -> list[Any]:
    from moto.cloudwatch.models import MetricDatum
    from moto.core.utils import unix_time_millis, utcnow
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[account_id][region]
    now: datetime = utcnow().replace(second=0, microsecond=0)
    now_ms = int(unix_time_millis())
    return [MetricDatum(NAMESPACE, AGE_METRIC, oldest_age_seconds(list(queue._messages), now_ms),
                        [{"Name": "QueueName", "Value": name}], now, unit="Seconds")
            for name, queue in list(backend.queues.items())]


def _install_launch_time_reset() -> None:
    from moto.core.utils import utcnow
    from moto.ec2.models.instances import Instance

    original = Instance.start
    if getattr(original, "_pushdeploy_patched", False):
        return

    def start(self: Any) -> Any:
        previous = original(self)
        if previous.name == "stopped":
            self.launch_time = utcnow()
        return previous

    start._pushdeploy_patched = True  # type: ignore[attr-defined]
    Instance.start = start  # type: ignore[method-assign]


_installed: list[type] = []


def install() -> None:
    """Register the SQS metric provider (once) and the LaunchTime reset."""
    from moto.core.common_models import CloudWatchMetricProvider

    if not _installed:
        class SqsAgeMetrics(CloudWatchMetricProvider):
            @staticmethod
            def get_cloudwatch_metrics(account_id: str, region: str) -> list[Any]:
                return _datapoints(account_id, region)

        _installed.append(SqsAgeMetrics)
    _install_launch_time_reset()
