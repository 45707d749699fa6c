"""The instance metadata service (IMDSv2) of one rig builder: what lets an agent that could not read its settings
still say which instance it runs on.

On EC2 every machine answers ``http://169.254.169.254`` with its own identity; the agent's crash EndOfRun reads
``/latest/meta-data/instance-id`` there (agent/aws.py) so that close, in a pool of builders, knows which one to
stop. Each rig builder gets its own small server on 127.0.0.1, reached through the agent's
``PUSHDEPLOY_IMDS_URL``. As the launch template requires (``HttpTokens: required``), a metadata read needs a token
from ``PUT /latest/api/token`` first; without one it is refused with 401, as IMDSv2 refuses it.

With IAM enforced on the rig, it is also where the agent's credentials come from, as on EC2 from the instance
profile: ``/latest/meta-data/iam/security-credentials/`` names the role, and ``.../<role>`` answers fresh
credentials of it (``credentials``: an sts:AssumeRole each time) in IMDS's JSON. botocore's credential chain finds
them through ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` when the agent's environment holds no keys.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localrig.iam.principals import Keys

TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"


class MetadataService:
    """One instance's metadata endpoint: its instance id and (given a role) its instance profile's credentials,
    behind an IMDSv2 session token."""

    def __init__(self, instance_id: str, role: str = "", credentials: Callable[[], Keys] | None = None) -> None:
        self.instance_id = instance_id
        self.role, self.credentials = role, credentials
        self.tokens: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"imds-{instance_id}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> MetadataService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, headers: Any) -> tuple[int, str]:
        """(status, body) for one request."""
        if method == "PUT" and path == TOKEN_PATH:
            if not headers.get(TOKEN_TTL_HEADER):
                return 400, "missing " + TOKEN_TTL_HEADER
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return 200, token
        if method != "GET":
            return 405, "method not allowed"
        if headers.get(TOKEN_HEADER) not in self.tokens:
            return 401, "unauthorized: IMDSv2 needs a session token"
        if path == "/latest/meta-data/instance-id":
            return 200, self.instance_id
        if self.credentials is not None and path.startswith(CREDENTIALS_PATH):
            return self._credentials(path.removeprefix(CREDENTIALS_PATH))
        return 404, "not found"

    def _credentials(self, role: str) -> tuple[int, str]:
        """The role's name (the listing), or its credentials as IMDS gives them."""
        if role in ("", "/"):
            return 200, self.role
        if role != self.role or self.credentials is None:
            return 404, "not found"
        keys = self.credentials()
        body = {"Code": "Success", "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "Type": "AWS-HMAC", **{k: v for k, v in keys.to_json().items() if k != "Arn"}}
        return 200, json.dumps(body)


def _handler(service: MetadataService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
            return

        def _reply(self) -> None:
            status, body = service.answer(self.command, self.path, self.headers)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _reply  # noqa: N815 - http.server naming

    return Handler
