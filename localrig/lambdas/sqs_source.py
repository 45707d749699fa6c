"""Lambda's SQS event source mapping, as the rig's Lambda host plays it.

For each ``@app.on_sqs_message`` of the Chalice app (read from the app's own event sources, as the host
reads its SNS subscriptions), one poller thread does what the mapping's pollers do on AWS: long-poll the
queue for up to ``batch_size`` messages, invoke the function synchronously with Lambda's SQS event
(``Records[]`` with ``messageId``, ``receiptHandle``, ``body``, ``attributes``, ``messageAttributes``,
``md5OfBody``, ``eventSource``, ``eventSourceARN``, ``awsRegion``), delete the whole batch when the function
returns, and leave it when it raises: the messages come back after the queue's visibility timeout, and the
queue's redrive policy moves one received too often to its dead-letter queue. Nothing is retried by the host
itself, as nothing is on AWS. (Partial batch responses, ``ReportBatchItemFailures``, are not modelled:
Chalice does not turn them on.)

AWS runs several pollers per mapping and invokes concurrently; the rig runs one poller per mapping and
its invocations take their turn on the host's single dispatcher, like every other invocation.

The mapping reads with its function's execution role, as on AWS: under the rig's IAM enforcement the host finds
the queue (as the deployer that made the mapping) and then starts the reading loop as its own process
(``python -m localrig.lambdas.sqs_source``) with that function's credentials and ``PUSHDEPLOY_RIG_PART``, which asks the
host to invoke the function over HTTP (``POST /call/<function>``) and journals to the same file. Each step is
journaled (``sqs`` received, then the invocation's own records, then ``sqs-deleted`` or ``sqs-left``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chalicelib.arns import ArnError, parse_arn

WAIT_SECONDS = 20  # the mapping's long poll
RETRY_SECONDS = 1.0  # after a failed receive or an unknown queue, try again this much later
DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"]


@dataclass(frozen=True)
class QueueSource:
    """One ``@app.on_sqs_message``: the function and the queue it reads (by ARN or, as Chalice allows, by name)."""

    function: str
    queue: str
    batch_size: int


def queue_sources(app: Any) -> list[QueueSource]:
    """The app's SQS event sources, in registration order."""
    from chalice.app import SQSEventConfig

    found = []
    for source in getattr(app, "event_sources", []):
        if isinstance(source, SQSEventConfig):
            found.append(QueueSource(source.name, source.queue_arn or source.queue or "", source.batch_size))
    return found


def queue_url(sqs: Any, queue: str) -> str:
    """The queue's URL from its ARN (owner account kept) or its name."""
    try:
        arn = parse_arn(queue, "sqs")
    except ArnError:
        return sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return sqs.get_queue_url(QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)["QueueUrl"]


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue in the event's camelCase form."""
    return {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []), "dataType": value.get("DataType", "String")}


def sqs_lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda gets for one batch of received SQS messages."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m.get("Body", ""),
        "attributes": dict(m.get("Attributes") or {}),
        "messageAttributes": {k: _message_attribute(v) for k, v in (m.get("MessageAttributes") or {}).items()},
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


class Host(Protocol):
    """What a poller needs of the Lambda host: a synchronous invocation and its journal."""

    def call(self, function: str, event: dict[str, Any], trigger: str, attempt: int) -> BaseException | None: ...

    def journal_write(self, kind: str, **fields: Any) -> None: ...


class QueuePoller:
    """One mapping's poller thread."""

    def __init__(self, source: QueueSource, host: Host, make_client: Callable[[], Any], region: str,
                 spawn: Callable[[QueuePoller], None] | None = None) -> None:
        """``make_client``: the SQS client that finds the queue (and, without ``spawn``, reads it); ``spawn``: starts
        the reading loop elsewhere (its own process, signing as the function) once the queue's URL and ARN are known.
        On AWS the mapping is made with the queue's ARN by the deployer, so the execution role never needs
        sqs:GetQueueUrl."""
        self.source, self.host, self.region = source, host, region
        self._sqs = make_client()  # boto3 clients are thread-safe; the session that made it is not shared
        self._spawn = spawn
        self.url = ""
        self.arn = ""
        self._thread = threading.Thread(target=self._run, name=f"sqs-{source.function}", daemon=True)

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def settled(self) -> bool:
        """Nothing left for this mapping: its queue holds no message, visible, in flight or delayed (a batch
        left after a failure is invisible until the queue gives it back, and the function runs again then)."""
        if not self.url:
            return True
        try:
            attrs = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=DEPTH_ATTRIBUTES)["Attributes"]
        except Exception:  # noqa: BLE001 - unknown is not settled: a waiter asks again
            return False
        return sum(int(v) for v in attrs.values()) == 0

    def _run(self) -> None:
        while not self._resolve():
            time.sleep(RETRY_SECONDS)
        if self._spawn is not None:
            self._spawn(self)
            return
        self.serve()

    def serve(self) -> None:
        """The mapping's loop, on a resolved queue."""
        while True:
            self._poll_once()

    def _resolve(self) -> bool:
        try:
            url = queue_url(self._sqs, self.source.queue)
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            arn = attributes["QueueArn"]
        except Exception as exc:  # noqa: BLE001 - the mapping keeps trying, as Lambda's does; the journal says why
            self.host.journal_write("sqs-error", function=self.source.function, queue=self.source.queue,
                                    error=f"queue not found: {exc}")
            return False
        self.url, self.arn = url, arn
        self.host.journal_write("sqs-mapping", function=self.source.function, queue=arn,
                                batch_size=self.source.batch_size)
        return True

    def _poll_once(self) -> None:
        try:
            messages = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=min(self.source.batch_size, 10), WaitTimeSeconds=WAIT_SECONDS,
                AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        except Exception as exc:  # noqa: BLE001 - a failed receive is retried, as the mapping does
            self.host.journal_write("sqs-error", function=self.source.function, queue=self.arn, error=str(exc))
            time.sleep(RETRY_SECONDS)
            return
        if messages:
            self._deliver(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        ids = [m["MessageId"] for m in messages]
        self.host.journal_write("sqs", function=self.source.function, queue=self.arn, message_ids=ids,
                                bodies=[m.get("Body", "") for m in messages],
                                receive_counts=[int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
                                                for m in messages])
        attempt = max(int((m.get("Attributes") or {}).get("ApproximateReceiveCount", 1)) for m in messages)
        event = sqs_lambda_event(messages, self.arn, self.region)
        error = self.host.call(self.source.function, event, f"sqs:{_name(self.arn)}", attempt)
        if error is not None:
            self.host.journal_write("sqs-left", function=self.source.function, queue=self.arn, message_ids=ids,
                                    error=str(error))
            return
        self._delete(messages, ids)

    def _delete(self, messages: list[dict[str, Any]], ids: list[str]) -> None:
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        try:
            failed = self._sqs.delete_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
        except Exception as exc:  # noqa: BLE001 - undeleted messages come back and run again, as on AWS
            self.host.journal_write("sqs-error", function=self.source.function, queue=self.arn, error=str(exc))
            return
        self.host.journal_write("sqs-deleted", function=self.source.function, queue=self.arn, message_ids=ids,
                                failed=[f.get("Message", f.get("Code")) for f in failed])


def _name(queue_arn: str) -> str:
    try:
        return parse_arn(queue_arn, "sqs").resource
    except ArnError:
        return queue_arn


class HttpHost:
    """The Lambda host as a mapping process reaches it: invocations over HTTP, the journal file appended to."""

    def __init__(self, host_url: str, journal: Path) -> None:
        from localrig.lambdas.lambda_host import Journal

        self.host_url, self.journal = host_url, Journal(journal)

    def call(self, function: str, event: dict[str, Any], trigger: str, attempt: int) -> BaseException | None:
        import json
        import urllib.request

        from localrig.lambdas.lambda_worker import HandlerError

        body = json.dumps({"event": event, "trigger": trigger, "attempt": attempt}).encode()
        request = urllib.request.Request(f"{self.host_url}/call/{function}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=960) as resp:  # Lambda's longest run, 15 minutes
            error = json.load(resp).get("error")
        return None if error is None else HandlerError(error.get("type", "Error"), error.get("message", ""),
                                                       error.get("line", ""))

    def journal_write(self, kind: str, **fields: Any) -> None:
        self.journal.write(kind, **fields)


def _exit_when_orphaned() -> None:
    """The host holds this process's stdin: when the host ends, so does its mapping."""
    import os
    import sys

    sys.stdin.read()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    import argparse

    import boto3

    parser = argparse.ArgumentParser(prog="python -m localrig.lambdas.sqs_source",
                                     description="one SQS event source mapping")
    for name in ("--function", "--queue-url", "--queue-arn", "--region", "--host-url"):
        parser.add_argument(name, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    args = parser.parse_args(argv)
    threading.Thread(target=_exit_when_orphaned, name="orphan-watch", daemon=True).start()
    source = QueueSource(args.function, args.queue_arn, args.batch_size)
    poller = QueuePoller(source, HttpHost(args.host_url, args.journal),
                         lambda: boto3.session.Session().client("sqs", region_name=args.region), args.region)
    poller.url, poller.arn = args.queue_url, args.queue_arn
    poller.serve()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
