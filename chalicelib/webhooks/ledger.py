"""Delivery ids seen, in DynamoDB: a provider redelivers (a timeout, a retry button), and a delivery must
publish its build requests once.

The record is written with a conditional put before publishing (two concurrent copies of one delivery: one
wins), and deleted again when publishing fails, so the provider's retry is not dropped as a duplicate.
DynamoDB's TTL removes records ``keep_seconds`` after they were written (attribute ``expires_at``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

log = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 86400  # longer than any provider retries or offers a redelivery button for a fresh delivery


class DeliveryLedger:
    def __init__(self, dynamodb: DynamoDBClient, table: str, clock: Callable[[], float] = time.time,
                 keep_seconds: int = KEEP_SECONDS) -> None:
        self._dynamodb = dynamodb
        self.table = table
        self._clock = clock
        self.keep_seconds = keep_seconds

    def claim(self, key: str) -> bool:
        """Record ``key``; False when it was recorded before (a replayed delivery)."""
        now = int(self._clock())
        try:
            self._dynamodb.put_item(
                TableName=self.table, ConditionExpression="attribute_not_exists(delivery_id)",
                Item={"delivery_id": {"S": key}, "received_at": {"N": str(now)},
                      "expires_at": {"N": str(now + self.keep_seconds)}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise classify(exc, f"recording delivery {key} in {self.table}") from exc
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"recording delivery {key} in {self.table}") from exc
        return True

    def release(self, key: str) -> None:
        """Forget ``key`` (its requests were not published); a failure is logged, as the answer is 503 anyway."""
        try:
            self._dynamodb.delete_item(TableName=self.table, Key={"delivery_id": {"S": key}})
        except AWS_EXCEPTIONS as exc:
            log.error("webhooks: delivery %s was recorded but not published, and the record could not be "
                      "deleted (%s): a retry of it will be taken for a duplicate; delete item %s from %s",
                      key, type(exc).__name__, key, self.table)
            return
        log.info("webhooks: delivery %s released (not published)", key)
