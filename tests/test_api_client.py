"""scripts/pushdeploy_api.py sends what API Gateway's AWS_IAM check accepts: a SigV4 signature for
execute-api that verifies over the method, the path with the pipeline id as one %2F-encoded segment, the
body and the signed headers. The server is a real local HTTP server that records the request."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SCRIPT = Path(__file__).parent.parent / "scripts" / "pushdeploy_api.py"
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def server():
    seen: list[dict] = []

    class Recorder(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                         "body": body})
            reply = json.dumps({"event_id": "e-1"}).encode()
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/api/", seen
    httpd.shutdown()
    thread.join(timeout=10)


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "PATH": "/usr/bin:/bin",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    return subprocess.run([sys.executable, str(SCRIPT), url, "--region", "eu-west-1", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def signature_verifies(request: dict, url_base: str) -> bool:
    """Recompute the signature from what the server received, with the caller's key: API Gateway's check."""
    authorization = request["headers"]["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
    signed_names = fields["SignedHeaders"].split(";")
    headers = {k: v for k, v in request["headers"].items() if k.lower() in signed_names}
    aws_request = AWSRequest(method=request["method"], url=url_base.rstrip("/") + request["path"].removeprefix("/api"),
                             data=request["body"], headers=headers)
    aws_request.context["timestamp"] = request["headers"]["X-Amz-Date"]
    auth = SigV4Auth(Credentials(KEY, SECRET), "execute-api", "eu-west-1")
    expected = auth.signature(auth.string_to_sign(aws_request, auth.canonical_request(aws_request)), aws_request)
    return fields["Signature"] == expected and fields["Credential"].endswith("/eu-west-1/execute-api/aws4_request")


def test_a_build_request_is_signed_for_execute_api(server):
    url, seen = server

    done = run(url, "build", "octo/app/main", "--commit", "0" * 40, "--force")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"event_id": "e-1"}
    [request] = seen
    assert (request["method"], request["path"]) == ("POST", "/api/pipelines/octo%2Fapp%2Fmain/builds")
    assert json.loads(request["body"]) == {"commit": "0" * 40, "force": True}
    assert signature_verifies(request, url)
    assert SECRET not in json.dumps({k: v for k, v in request.items() if k != "body"}) + done.stdout + done.stderr


def test_a_tampered_body_no_longer_verifies(server):
    url, seen = server
    run(url, "rollback", "sample/production", "--to", "web:3")
    [request] = seen
    assert json.loads(request["body"]) == {"to": "web:3"}

    assert signature_verifies(request, url)
    assert not signature_verifies(dict(request, body=b'{"to": "web:1"}'), url)


def test_list_is_a_signed_get(server):
    url, seen = server

    assert run(url, "list").returncode == 0

    [request] = seen
    assert (request["method"], request["path"], request["body"]) == ("GET", "/api/pipelines", b"")
    assert signature_verifies(request, url)
