"""The Lambda service stand-in: runs the Chalice app's handlers the way Lambda would invoke them.

A child process of the rig, so that ``app.py`` is imported once with the stage's environment
set (as Lambda does) and never shares module state with the rig or a test session.

It serves HTTP on 127.0.0.1:
- ``POST /invoke/<function>``: an asynchronous invocation (what a CodeCommit trigger does);
  answers 202 at once.
- ``POST /sns``: the endpoint of the SNS ``http`` subscriptions. moto delivers a normal SNS HTTP
  notification; the host wraps it into the Lambda SNS event shape and invokes every function
  the app subscribed to that topic (read from the app's own event sources, so nothing here
  names a handler). A SubscriptionConfirmation is confirmed by fetching its SubscribeURL.
- ``POST /schedule/<function>``: fire a scheduled function's EventBridge rule now (the
  rig's way to run a ``rate(5 minutes)`` function in a story that lasts seconds);
  the host also fires every ``rate(...)`` rule on its own at its real rate.
- ``GET /health``.
- every ``@app.on_sqs_message`` is served as Lambda's event source mapping serves it: long-poll, invoke
  with the SQS event, delete the batch on success, leave it for the visibility timeout on failure
  (localrig/lambdas/sqs_source.py).

Each function runs in its own process (localrig.lambdas.lambda_worker), as each Lambda function has its own
container, signing with its own execution role's credentials when ``--credentials`` names them (a JSON object:
function -> {AccessKeyId, SecretAccessKey, Token}); the host imports app.py only to read its event sources.
Invocations are dispatched one at a time by one thread, as before the split, and a failed one is retried like
Lambda's async retries, with short delays; after the last retry the event goes to the on-failure destination
queue, when the rig names one, sent by the function's own process (Lambda sends with the execution role).
An SQS event source reads its queue with its function's credentials (the mapping uses the execution role).
Every step is appended to a JSON-lines journal that the rig narrates and checks.

Usage: ``python -m localrig.lambdas.lambda_host --app-dir DIR --env-file FILE --journal FILE --port-file FILE
[--credentials FILE]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chalicelib.arns import ArnError, parse_arn
from chalicelib.region import region_from_env
from localrig.lambdas.lambda_worker import PART_VARIABLE, Worker, error_line, error_type, worker_argv
from localrig.lambdas.sqs_source import QueuePoller, queue_sources

ENV_FAILURE_QUEUE = "PUSHDEPLOY_RIG_FAILURE_QUEUE_URL"
RETRY_DELAYS = (1.0, 2.0)  # Lambda waits 1 and 2 minutes between async retries; the rig, seconds
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class Journal:
    """Append-only JSON lines, one per step, safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        record = {"time": time.time(), "kind": kind, **fields}
        line = json.dumps(record, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def sns_lambda_event(notification: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event Lambda gets for one SNS notification (Records[].Sns with the message fields)."""
    attributes = {}
    for name, value in (notification.get("MessageAttributes") or {}).items():
        kind = value.get("Type") or value.get("DataType") or "String"
        text = value.get("Value", value.get("StringValue", value.get("BinaryValue")))
        attributes[name] = {"Type": kind, "Value": text}
    sns = {
        "SignatureVersion": notification.get("SignatureVersion", "1"),
        "Timestamp": notification.get("Timestamp"),
        "Signature": notification.get("Signature", ""),
        "SigningCertUrl": notification.get("SigningCertURL", notification.get("SigningCertUrl", "")),
        "MessageId": notification.get("MessageId"),
        "Message": notification.get("Message"),
        "MessageAttributes": attributes,
        "Type": "Notification",
        "UnsubscribeUrl": notification.get("UnsubscribeURL", notification.get("UnsubscribeUrl", "")),
        "TopicArn": notification.get("TopicArn"),
        "Subject": notification.get("Subject"),
    }
    return {"Records": [{"EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
                         "EventSource": "aws:sns", "Sns": sns}]}


def topic_name(topic_arn: str) -> str:
    """The topic's name from its ARN (Chalice lets an app subscribe by name); not an ARN: as given."""
    try:
        return parse_arn(topic_arn, "sns").resource
    except ArnError:
        return topic_arn


def scheduled_event(rule_arn: str, region: str = "us-east-1", account: str = "123456789012") -> dict[str, Any]:
    """The event EventBridge sends a function on its schedule ("Scheduled Event")."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": region,
            "resources": [rule_arn], "detail": {}}


def _expression_text(expression: Any) -> str:
    """Chalice keeps a schedule as a string or a Rate/Cron object."""
    return expression if isinstance(expression, str) else expression.to_string()


def rate_seconds(expression: Any) -> float | None:
    """Seconds between runs of a ``rate(...)`` schedule; None for cron (fired on request only)."""
    match = _RATE.match(_expression_text(expression).strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempt: int = 1
    trigger: str = ""
    # set for a synchronous invocation (an SQS event source's): told the outcome, no async retry or destination
    on_done: Callable[[BaseException | None], None] | None = None


def function_env(base: dict[str, str], function: str, keys: dict[str, str] | None) -> dict[str, str]:
    """A worker's environment: the host's, its part's name, and (when given) only its own role's keys."""
    env = dict(base, **{PART_VARIABLE: function})
    if keys is not None:
        env.update(AWS_ACCESS_KEY_ID=keys["AccessKeyId"], AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
                   AWS_SESSION_TOKEN=keys.get("Token", ""))
    return env


class Workers:
    """One worker process per function, all started at once (their app imports overlap), asked by name."""

    def __init__(self, functions: list[str], app_dir: Path, env_file: Path,
                 credentials: dict[str, dict[str, str]] | None) -> None:
        self.credentials = credentials
        missing = sorted(set(functions) - set(credentials)) if credentials is not None else []
        if missing:
            raise SystemExit(f"no credentials for functions {missing}: each function signs as its own role")
        base = dict(os.environ)
        self._mappings: list[subprocess.Popen[bytes]] = []  # stdin held open: a mapping ends with the host
        self._workers = {
            name: Worker(name, worker_argv(app_dir, env_file, name),
                         function_env(base, name, credentials.get(name) if credentials else None), sys.stderr.buffer,
                         cwd=app_dir)
            for name in functions}

    def __getitem__(self, function: str) -> Worker:
        return self._workers[function]

    def start_mapping(self, poller: QueuePoller, host_url: str, journal: Path) -> None:
        """The mapping's reading loop as its own process, signing as its function (the execution role)."""
        source = poller.source
        argv = [sys.executable, "-m", "localrig.lambdas.sqs_source", "--function", source.function,
                "--queue-url", poller.url,
                "--queue-arn", poller.arn, "--region", poller.region, "--host-url", host_url,
                "--batch-size", str(source.batch_size), "--journal", str(journal)]
        env = function_env(dict(os.environ), source.function, (self.credentials or {}).get(source.function))
        self._mappings.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=sys.stderr.buffer,
                                               stderr=sys.stderr.buffer, env=env))

    def deployer_sqs(self, region: str) -> Any:
        """The host's own SQS client (the deployer's, who made the mapping: it finds the queue; the rig's admin)."""
        import boto3

        return boto3.session.Session().client("sqs", region_name=region)


class FunctionHost:
    """The imported app's metadata (its functions, which of them each SNS topic feeds, its SQS event sources) and
    the workers that run them."""

    def __init__(self, app: Any, journal: Journal, workers: Workers,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.app = app
        self.journal = journal
        self.workers = workers
        self.retry_delays = retry_delays
        self.pollers: list[QueuePoller] = []
        self._work: queue.Queue[Invocation | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="lambda-worker", daemon=True)
        self._worker.start()

    def start_queue_sources(self, host_url: str) -> None:
        """One mapping per ``@app.on_sqs_message`` (localrig.lambdas.sqs_source): the host finds its queue with its own
        credentials (the deployer's), then the mapping reads it in its own process as its function."""
        region = region_from_env() or "us-east-1"
        for source in queue_sources(self.app):
            poller = QueuePoller(source, self, lambda: self.workers.deployer_sqs(region), region,
                                 spawn=lambda found: self.workers.start_mapping(found, host_url, self.journal.path))
            self.pollers.append(poller.start())

    def call(self, function: str, event: dict[str, Any], trigger: str, attempt: int = 1) -> BaseException | None:
        """A synchronous invocation, on the worker like every other; returns the handler's error, or None."""
        done = threading.Event()
        outcome: list[BaseException | None] = []

        def finished(error: BaseException | None) -> None:
            outcome.append(error)
            done.set()

        self.submit(Invocation(function, event, attempt=attempt, trigger=trigger, on_done=finished))
        done.wait()
        return outcome[0]

    def journal_write(self, kind: str, **fields: Any) -> None:
        self.journal.write(kind, **fields)

    def functions(self) -> list[str]:
        return lambda_functions(self.app)

    def subscribers(self, topic_arn: str) -> list[str]:
        """Functions the app subscribed to this topic (by ARN or by topic name, as Chalice allows)."""
        name = topic_name(topic_arn)
        found = []
        for source in getattr(self.app, "event_sources", []):
            topic = getattr(source, "topic", None)
            if topic is not None and topic in (topic_arn, name):
                found.append(source.name)
        return found

    def topics(self) -> list[str]:
        """The topics (ARN or name, as the app wrote them) that some function subscribes to."""
        return sorted({source.topic for source in getattr(self.app, "event_sources", [])
                       if getattr(source, "topic", None) is not None})

    def schedules(self) -> dict[str, Any]:
        """Scheduled functions by name -> their schedule expression."""
        return {source.name: source.schedule_expression for source in getattr(self.app, "event_sources", [])
                if hasattr(source, "schedule_expression")}

    def fire(self, function: str) -> Invocation:
        region = region_from_env() or "us-east-1"
        rule = f"arn:aws:events:{region}:123456789012:rule/{function}"
        invocation = Invocation(function, scheduled_event(rule, region), trigger="events:schedule")
        self.submit(invocation)
        return invocation

    def start_schedules(self) -> None:
        for name, expression in self.schedules().items():
            every = rate_seconds(expression)
            if every is not None:
                threading.Thread(target=self._every, args=(name, every), name=f"schedule-{name}", daemon=True).start()

    def _every(self, function: str, seconds: float) -> None:
        stop = threading.Event()
        while not stop.wait(seconds):
            self.fire(function)

    def submit(self, invocation: Invocation) -> None:
        with self._pending_lock:
            self._pending += 1
        self.journal.write("invoke", function=invocation.function, request_id=invocation.request_id,
                           attempt=invocation.attempt, trigger=invocation.trigger)
        self._work.put(invocation)

    def idle(self) -> bool:
        """No invocation queued or running, and no message waiting in (or taken from) an SQS event source."""
        with self._pending_lock:
            if self._pending:
                return False
        return all(poller.settled() for poller in self.pollers)

    def _run(self) -> None:
        while True:
            invocation = self._work.get()
            if invocation is None:
                return
            self._execute(invocation)

    def _execute(self, invocation: Invocation) -> None:
        started = time.monotonic()
        try:
            result = self.workers[invocation.function].invoke(invocation.event)
        except Exception as exc:  # noqa: BLE001 - any handler error (or a dead worker) is an async-invoke failure
            if invocation.on_done is not None:
                self._failed_sync(invocation, exc, time.monotonic() - started)
            else:
                self._failed(invocation, exc, time.monotonic() - started)
            return
        self.journal.write("result", function=invocation.function, request_id=invocation.request_id,
                           attempt=invocation.attempt, seconds=round(time.monotonic() - started, 3),
                           result=_short(result))
        if invocation.on_done is not None:
            invocation.on_done(None)
        self._done()

    def _failed_sync(self, invocation: Invocation, exc: Exception, seconds: float) -> None:
        """A synchronous caller (an event source mapping) decides what happens next: the host retries nothing."""
        last = error_line(exc)
        self.journal.write("error", function=invocation.function, request_id=invocation.request_id,
                           attempt=invocation.attempt, seconds=round(seconds, 3), error=last, will_retry=True,
                           retry="after the queue's visibility timeout")
        assert invocation.on_done is not None
        invocation.on_done(exc)
        self._done()

    def _failed(self, invocation: Invocation, exc: Exception, seconds: float) -> None:
        last = error_line(exc)
        retry = invocation.attempt <= len(self.retry_delays)
        self.journal.write("error", function=invocation.function, request_id=invocation.request_id,
                           attempt=invocation.attempt, seconds=round(seconds, 3), error=last, will_retry=retry)
        if retry:
            delay = self.retry_delays[invocation.attempt - 1]
            again = Invocation(invocation.function, invocation.event, invocation.request_id,
                               invocation.attempt + 1, invocation.trigger)
            timer = threading.Timer(delay, self._retry, args=(again,))
            timer.daemon = True
            timer.start()
        else:
            self._to_failure_destination(invocation, exc)
            self._done()

    def _to_failure_destination(self, invocation: Invocation, exc: Exception) -> None:
        """After the last retry Lambda drops the event, unless the function has an on-failure destination
        (``python -m infra failure-destinations`` gives every function the stack's failure queue): then
        the event goes there, in Lambda's destination record. ``PUSHDEPLOY_RIG_FAILURE_QUEUE_URL`` names it."""
        queue_url = os.environ.get(ENV_FAILURE_QUEUE)
        if not queue_url:
            return
        record = failure_record(invocation, exc)
        try:
            self.workers[invocation.function].send(queue_url, json.dumps(record, default=str))
        except Exception as send_error:  # noqa: BLE001 - Lambda would log it; the journal says so
            self.journal.write("destination-error", function=invocation.function, error=str(send_error))
            return
        self.journal.write("destination", function=invocation.function, request_id=invocation.request_id,
                           queue=queue_url)

    def _retry(self, invocation: Invocation) -> None:
        self.journal.write("invoke", function=invocation.function, request_id=invocation.request_id,
                           attempt=invocation.attempt, trigger=invocation.trigger)
        self._work.put(invocation)

    def _done(self) -> None:
        with self._pending_lock:
            self._pending -= 1


def failure_record(invocation: Invocation, exc: Exception) -> dict[str, Any]:
    """Lambda's on-failure destination record for an asynchronous invocation whose retries ran out."""
    region = region_from_env() or "us-east-1"
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {"requestId": invocation.request_id, "condition": "RetriesExhausted",
                           "functionArn": f"arn:aws:lambda:{region}:123456789012:function:{invocation.function}"
                                          ":$LATEST",
                           "approximateInvokeCount": invocation.attempt},
        "requestPayload": invocation.event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(exc), "errorType": error_type(exc)},
    }


def _short(value: Any) -> Any:
    text = json.dumps(value, default=str)
    return value if len(text) <= 500 else text[:497] + "..."


class _Handler(BaseHTTPRequestHandler):
    """The host's HTTP endpoints; ``host`` is set per server by ``make_handler``."""

    host: FunctionHost

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        return

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path == "/health":
            schedules = {name: _expression_text(expr) for name, expr in self.host.schedules().items()}
            self._reply(200, {"functions": self.host.functions(), "idle": self.host.idle(), "schedules": schedules,
                              "topics": self.host.topics()})
        else:
            self._reply(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            self._reply(400, {"error": f"body is not JSON: {exc}"})
            return
        if self.path.startswith("/invoke/"):
            self._invoke(self.path.removeprefix("/invoke/"), body)
        elif self.path == "/sns":
            self._sns(body)
        elif self.path.startswith("/schedule/"):
            self._schedule(self.path.removeprefix("/schedule/"))
        elif self.path.startswith("/call/"):
            self._call(self.path.removeprefix("/call/"), body)
        else:
            self._reply(404, {"error": f"no such path {self.path}"})

    def _invoke(self, function: str, event: Any) -> None:
        if function not in self.host.functions():
            self.host.journal.write("reject", function=function, error="function not found")
            self._reply(404, {"error": f"function {function!r} not found; have {self.host.functions()}"})
            return
        invocation = Invocation(function, event, trigger=self.headers.get("X-Trigger", "invoke"))
        self.host.submit(invocation)
        self._reply(202, {"request_id": invocation.request_id})

    def _call(self, function: str, body: dict[str, Any]) -> None:
        """A synchronous invocation for an event source mapping's process: answered when the function is done."""
        if function not in self.host.functions():
            self._reply(404, {"error": {"type": "ResourceNotFoundException", "message": function, "line": function}})
            return
        error = self.host.call(function, body.get("event"), body.get("trigger", ""), int(body.get("attempt", 1)))
        found = None if error is None else {"type": error_type(error), "message": str(error), "line": error_line(error)}
        self._reply(200, {"error": found})

    def _schedule(self, function: str) -> None:
        if function not in self.host.schedules():
            self._reply(404, {"error": f"no scheduled function {function!r}; have {sorted(self.host.schedules())}"})
            return
        self._reply(202, {"request_id": self.host.fire(function).request_id})

    def _sns(self, body: dict[str, Any]) -> None:
        kind = body.get("Type")
        topic = body.get("TopicArn", "")
        if kind == "SubscriptionConfirmation":
            try:
                urllib.request.urlopen(body["SubscribeURL"], timeout=10).close()
            except (OSError, KeyError) as exc:
                self.host.journal.write("reject", topic=topic, error=f"subscription not confirmed: {exc}")
                self._reply(502, {"error": f"could not confirm the subscription to {topic}: {exc}"})
                return
            self.host.journal.write("sns-confirmed", topic=topic)
            self._reply(200, {"confirmed": topic})
            return
        if kind != "Notification":
            self.host.journal.write("reject", topic=topic, error=f"unknown SNS message type {kind!r}")
            self._reply(400, {"error": f"unknown SNS message type {kind!r}"})
            return
        functions = self.host.subscribers(topic)
        # Timestamp: when SNS accepted the Publish (the delivery comes after); the rig's timeline places it there
        self.host.journal.write("sns", topic=topic, message_id=body.get("MessageId"), message=body.get("Message"),
                                functions=functions, published=body.get("Timestamp"))
        for function in functions:
            event = sns_lambda_event(body, f"{topic}:{function}")
            self.host.submit(Invocation(function, event, trigger=f"sns:{topic_name(topic)}"))
        self._reply(200, {"functions": functions})


def lambda_functions(app: Any) -> list[str]:
    """The functions Lambda invokes by name: every handler but the routes' views (API Gateway invokes those through
    one function, ``api_handler``, which the rig serves with `chalice local`)."""
    views = {entry.view_name for methods in getattr(app, "routes", {}).values() for entry in methods.values()}
    return sorted(set(app.handler_map) - views)


def make_handler(host: FunctionHost) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"host": host})


def load_app(app_dir: Path, env: dict[str, str]) -> Any:
    """Import app.py as Lambda does: with the stage's environment already set."""
    os.environ.update(env)
    sys.path.insert(0, str(app_dir))
    module = importlib.import_module("app")
    return module.app


def serve(app: Any, journal: Journal, workers: Workers, port: int = 0) -> tuple[ThreadingHTTPServer, FunctionHost]:
    host = FunctionHost(app, journal, workers)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(host))
    server.daemon_threads = True
    return server, host


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrig.lambdas.lambda_host", description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True, help="JSON object: the stage environment")
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True, help="written with the port once serving")
    parser.add_argument("--credentials", type=Path, help="JSON object: function -> its role's credentials")
    args = parser.parse_args(argv)
    journal = Journal(args.journal)
    credentials = json.loads(args.credentials.read_text()) if args.credentials else None
    app = load_app(args.app_dir, json.loads(args.env_file.read_text()))
    workers = Workers(lambda_functions(app), args.app_dir, args.env_file, credentials)
    server, host = serve(app, journal, workers)
    host.start_schedules()
    host.start_queue_sources(f"http://127.0.0.1:{server.server_address[1]}")
    journal.write("ready", functions=host.functions(), port=server.server_address[1])
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
