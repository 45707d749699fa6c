"""How long the oldest build request has waited, from CloudWatch's SQS metric.

SQS has no "age of oldest message" queue attribute, and peeking at the queue would count a receive toward
the dead-letter limit, so the age comes from ``AWS/SQS ApproximateAgeOfOldestMessage``, which SQS
publishes every minute (a few minutes late). The newest datapoint of the last ``LOOKBACK`` is used.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from numbers import Real
from typing import TYPE_CHECKING, Any, Optional

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
else:
    CloudWatchClient = Any

LOOKBACK = timedelta(minutes=15)
METRIC = "ApproximateAgeOfOldestMessage"


class QueueAge:
    def __init__(self, cloudwatch: CloudWatchClient, queue_url: str) -> None:
        self._cloudwatch = cloudwatch
        self.queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]

    def oldest_seconds(self, now: datetime) -> Optional[float]:
        """The newest reading in seconds, or None when CloudWatch has none (SQS stops publishing for a queue
        that has been inactive for hours; an empty active queue reads 0)."""
        try:
            response = self._cloudwatch.get_metric_statistics(
                Namespace="AWS/SQS", MetricName=METRIC, Dimensions=[{"Name": "QueueName", "Value": self.queue_name}],
                StartTime=now - LOOKBACK, EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Maximum"])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"reading {METRIC} of {self.queue_name}") from exc
        points = [p for p in response.get("Datapoints", [])
                  if isinstance(p.get("Timestamp"), datetime) and isinstance(p.get("Maximum"), Real)]
        if not points:
            return None
        return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])
