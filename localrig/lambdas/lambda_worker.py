"""One Lambda function's own process, as Lambda gives each function its own container.

The Lambda host (localrig.lambdas.lambda_host) starts one worker per function, with that function's execution-role
credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and ``PUSHDEPLOY_RIG_PART`` naming
it. A worker imports app.py with the stage's environment (as Lambda's init does), then runs invocations one at
a time: a JSON line on stdin asks, a JSON line on the protocol pipe answers. boto3's default session caches the
credentials it first finds, so a function can only sign as its own role if its process holds no other keys.

Protocol (one JSON object a line): request ``{"op": "invoke", "event": ...}`` -> ``{"ok": true, "result": ...}``
or ``{"ok": false, "type": "RuntimeError", "message": "...", "line": "RuntimeError: ..."}``; request
``{"op": "send", "queue_url": ..., "body": ...}`` sends one SQS message as the function (its on-failure
destination, which Lambda sends with the execution role) -> ``{"ok": true}`` or an error. The worker writes its
protocol to a duplicate of its original stdout and points fd 1 at stderr, so a handler's print lands in the log.

Usage: ``python -m localrig.lambdas.lambda_worker --app-dir DIR --env-file FILE --function NAME``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

PART_VARIABLE = "PUSHDEPLOY_RIG_PART"
READY = {"ok": True, "ready": True}


class HandlerError(Exception):
    """A handler's error, as its worker reported it: its type's name and its one-line description."""

    def __init__(self, type_name: str, message: str, line: str) -> None:
        super().__init__(message)
        self.type_name, self.line = type_name, line


def error_line(exc: BaseException) -> str:
    """``Type: message``, as ``traceback.format_exception_only`` gives it, for a worker's error too."""
    if isinstance(exc, HandlerError):
        return exc.line
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def error_type(exc: BaseException) -> str:
    return exc.type_name if isinstance(exc, HandlerError) else type(exc).__name__


class WorkerGone(RuntimeError):
    """The worker process exited or broke its protocol (its log says why)."""


class Worker:
    """The host's handle on one function's process: started at once, asked one request at a time."""

    def __init__(self, function: str, argv: list[str], env: Mapping[str, str], log: IO[bytes],
                 cwd: Path | None = None) -> None:
        self.function = function
        self._lock = threading.Lock()
        self._ready = False
        self._popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                       env=dict(env), cwd=cwd, text=True, bufsize=1)

    def invoke(self, event: Any) -> Any:
        """The handler's result; raises HandlerError with the handler's error."""
        return self._ask({"op": "invoke", "event": event}).get("result")

    def send(self, queue_url: str, body: str) -> None:
        """One SQS message sent with this function's credentials."""
        self._ask({"op": "send", "queue_url": queue_url, "body": body})

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self._ready:
                self._read()  # the READY line: app.py imported
                self._ready = True
            assert self._popen.stdin is not None
            try:
                self._popen.stdin.write(json.dumps(request, default=str) + "\n")
                self._popen.stdin.flush()
            except OSError as exc:
                raise WorkerGone(f"worker {self.function} is gone: {exc}") from exc
            reply = self._read()
        if not reply.get("ok"):
            raise HandlerError(reply.get("type", "Error"), reply.get("message", ""), reply.get("line", ""))
        return reply

    def _read(self) -> dict[str, Any]:
        assert self._popen.stdout is not None
        line = self._popen.stdout.readline()
        if not line:
            raise WorkerGone(f"worker {self.function} exited ({self._popen.poll()}); see the Lambda host's log")
        return json.loads(line)

    def stop(self) -> None:
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._popen.kill()


def worker_argv(app_dir: Path, env_file: Path, function: str) -> list[str]:
    return [sys.executable, "-m", "localrig.lambdas.lambda_worker", "--app-dir", str(app_dir),
            "--env-file", str(env_file), "--function", function]


def _protocol_stream() -> IO[str]:
    """The original stdout for the protocol; fd 1 (and sys.stdout) now write to stderr."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def _answer(handler: Any, function: str, request: dict[str, Any]) -> dict[str, Any]:
    from chalice.local import LambdaContext

    try:
        if request.get("op") == "send":
            import boto3

            boto3.client("sqs").send_message(QueueUrl=request["queue_url"], MessageBody=request["body"])
            return {"ok": True}
        result = handler(request.get("event"), LambdaContext(function, memory_size=128))
    except Exception as exc:  # noqa: BLE001 - any handler error is the invocation's failure, reported to the host
        traceback.print_exc()
        return {"ok": False, "type": type(exc).__name__, "message": str(exc), "line": error_line(exc)}
    return {"ok": True, "result": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrig.lambdas.lambda_worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True, help="JSON object: the stage environment")
    parser.add_argument("--function", required=True)
    args = parser.parse_args(argv)
    proto = _protocol_stream()
    from localrig.lambdas.lambda_host import load_app

    app = load_app(args.app_dir, json.loads(args.env_file.read_text()))
    handler = app.handler_map[args.function]
    print(f"worker {args.function}: app loaded as {os.environ.get(PART_VARIABLE, '?')}", file=sys.stderr, flush=True)
    proto.write(json.dumps(READY) + "\n")
    for line in sys.stdin:
        if line.strip():
            proto.write(json.dumps(_answer(handler, args.function, json.loads(line)), default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
