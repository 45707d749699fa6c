"""Build history in DynamoDB: the table (one conditional writer, three reads) and the ``history`` function's
handler, which records every BuildResult from the close topic once.

Idempotent by build_id: the put is conditional on the item not existing, so SNS's at-least-once delivery (or an
agent republishing a result after a lost answer) changes nothing the second time. The key is the pipeline and
``started_at#build_id``: a redelivered copy of a result has the same key, and the condition refuses it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

from botocore.exceptions import ClientError

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.contracts import BuildResult, ContractError, parse_close_message
from chalicelib.history.record import FEED, from_item, to_item, to_record

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

log = logging.getLogger(__name__)

Page = tuple[list[dict[str, Any]], Optional[dict[str, Any]]]  # records, DynamoDB's LastEvaluatedKey (None: last)


class HistoryTable:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self.table = table

    def record(self, record: dict[str, Any]) -> bool:
        """Write ``record`` unless its build is recorded already: False for a duplicate."""
        doing = f"recording build {record['build_id']} in {self.table}"
        try:
            self._dynamodb.put_item(TableName=self.table, Item=to_item(record),
                                    ConditionExpression="attribute_not_exists(sort_key)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise classify(exc, doing) from exc
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, doing) from exc
        return True

    def builds(self, pipeline: Optional[str], limit: int, start: Optional[dict[str, Any]] = None) -> Page:
        """Newest first: one pipeline's builds (the table's key), or every pipeline's (the ``recent`` index)."""
        if pipeline is None:
            query = {"IndexName": "recent", "KeyConditionExpression": "feed = :k",
                     "ExpressionAttributeValues": {":k": {"S": FEED}}}
        else:
            query = {"KeyConditionExpression": "pipeline = :k", "ExpressionAttributeValues": {":k": {"S": pipeline}}}
        if start:
            query["ExclusiveStartKey"] = start
        answer = self._query(f"reading the builds of {pipeline or 'every pipeline'}", ScanIndexForward=False,
                             Limit=limit, **query)
        return [from_item(i) for i in answer.get("Items", [])], answer.get("LastEvaluatedKey")

    def build(self, build_id: str) -> Optional[dict[str, Any]]:
        answer = self._query(f"reading build {build_id}", IndexName="by_build_id", Limit=1,
                             KeyConditionExpression="build_id = :b", ExpressionAttributeValues={":b": {"S": build_id}})
        items = answer.get("Items", [])
        return from_item(items[0]) if items else None

    def _query(self, doing: str, **query: Any) -> dict[str, Any]:
        try:
            return dict(self._dynamodb.query(TableName=self.table, **query))
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"{doing} from {self.table}") from exc


class HistoryHandler:
    """The ``history`` function: every BuildResult on the close topic becomes one record."""

    def __init__(self, table: HistoryTable) -> None:
        self._table = table

    def handle(self, message: str) -> str:
        try:
            parsed = parse_close_message(message)
        except ContractError as exc:
            log.info("history: not a build result (%s); nothing recorded", exc)  # e.g. a CloudWatch alarm
            return "ignored"
        if not isinstance(parsed, BuildResult):
            return "ignored"
        record = to_record(parsed)
        if not self._table.record(record):
            log.info("history: build %s of %s already recorded; redelivery ignored", record["build_id"],
                     parsed.pipeline)
            return "duplicate"
        log.info("history: recorded build %s of %s (%s, %s steps)", record["build_id"], parsed.pipeline,
                 parsed.outcome, len(parsed.steps))
        return "recorded"
