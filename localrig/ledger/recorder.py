"""The call recorder: one JSON line per botocore call, from event hooks every botocore Session registers.

Why hooks in ``botocore.handlers.BUILTIN_HANDLERS``: ``botocore.session.Session`` registers that list on every
new session (``_register_builtin_handlers``), so each client the product makes, in any thread, reports its
calls, and no product module is patched. ``before-parameter-build`` gives the operation and its parameters,
``after-call`` the HTTP status and error code, ``after-call-error`` a call that got no response.

Only parameters that name resources are written (an allowlist, never a denylist): a message body, an SSM
parameter's value, a SecureString's contents, a webhook URL or a token can never reach the file. Records from
many threads and processes share one file: each is one ``write`` on an ``O_APPEND`` descriptor under an
exclusive ``flock``, so lines never interleave.

This file imports nothing from the project: the rig's sitecustomize loads it by path in every child.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from typing import Any

# parameter names whose values name a resource or carry a condition key (tags): nothing else is written
KEPT_PARAMETERS = frozenset({
    "QueueUrl", "QueueName", "QueueNamePrefix", "AttributeNames", "TopicArn", "TargetArn", "InstanceIds",
    "Resources", "Tags", "TagKeys", "Filters", "Name", "Names", "WithDecryption", "Path", "cluster", "clusters",
    "service", "services", "taskDefinition", "family", "familyPrefix", "taskRoleArn", "executionRoleArn", "tags",
    "TableName", "IndexName", "logGroupName", "logGroupNamePrefix", "logStreamName", "Namespace", "MetricName",
    "Dimensions", "registryIds", "registryId", "repositoryName", "repositoryNames", "SecretId", "RoleArn",
    "RoleSessionName", "ResourceArn", "resourceArn", "StackName",
})
PART_VARIABLE = "PUSHDEPLOY_RIG_PART"
INSTANCE_VARIABLE = "PUSHDEPLOY_RIG_INSTANCE_ID"  # a builder's own instance: ec2:SourceInstanceARN
_CONTEXT_KEY = "pushdeploy_ledger"
_lock = threading.Lock()


def kept(params: Any) -> dict[str, Any]:
    """The parameters that name resources; values are JSON-safe (bytes and other objects become their type)."""
    if not isinstance(params, dict):
        return {}
    return {k: _plain(v) for k, v in params.items() if k in KEPT_PARAMETERS}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return f"<{type(value).__name__}>"


class Recorder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.part = os.environ.get(PART_VARIABLE) or "unknown"
        self.instance = os.environ.get(INSTANCE_VARIABLE) or None

    def before(self, params: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
        if model is None or not isinstance(context, dict):
            return
        context[_CONTEXT_KEY] = {"service": model.service_model.service_name, "operation": model.name,
                                 "params": kept(params)}

    def after(self, http_response: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
        if call is None:
            return
        status = getattr(http_response, "status_code", None)
        error = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        self.write(call, status, error)

    def failed(self, exception: Any = None, context: Any = None, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
        if call is not None:
            self.write(call, None, type(exception).__name__)

    def write(self, call: dict[str, Any], status: int | None, error: str | None) -> None:
        record = {"time": round(time.time(), 3), "part": self.part, "pid": os.getpid(), **call,
                  "status": status, "error": error}
        if self.instance:
            record["instance"] = self.instance
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with _lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
            finally:
                os.close(fd)


def install(path: str) -> Recorder | None:
    """Register the recorder for every botocore Session created from now on (in this process); a Python child
    without botocore (a tool the rig runs) makes no AWS call to record."""
    try:
        from botocore import handlers
    except ImportError:
        return None

    recorder = Recorder(path)
    handlers.BUILTIN_HANDLERS.extend([
        ("before-parameter-build.*.*", recorder.before),
        ("after-call.*.*", recorder.after),
        ("after-call-error.*.*", recorder.failed),
    ])
    return recorder
