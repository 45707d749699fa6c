"""A host may repeat the credential in its error text (git prints it as ``remote: ...``); the reason the
agent reports keeps the host's words but never the secret, and names the pipeline and the plain URL."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.aws import make_clients
from agent.git.credentials import GitCredentials, SecretRef, SecretStore, SourceAuth
from agent.git.source import GitSource, SourceError

TOKEN = "glpat-" + "Zq9" * 7


class _Indiscreet(BaseHTTPRequestHandler):
    """A real HTTP server that asks for Basic auth, then refuses quoting the password it got."""

    def do_GET(self) -> None:  # noqa: N802
        header = self.headers.get("Authorization")
        if header is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        password = base64.b64decode(header[6:]).decode().split(":", 1)[1]
        body = f"HTTP Basic: access denied for token {password}\n".encode()
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def indiscreet_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Indiscreet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/octo/app.git"
    server.shutdown()
    server.server_close()


def test_the_hosts_words_are_kept_and_the_token_is_not(aws, indiscreet_url, tmp_path):
    aws.client("ssm").put_parameter(Name="/pushdeploy/git/octo", Value=TOKEN, Type="SecureString")
    credentials = GitCredentials(SourceAuth(token=SecretRef("ssm", "/pushdeploy/git/octo")),
                                 SecretStore(make_clients("us-east-1")))
    source = GitSource(tmp_path / "cache", "octo/app/main", indiscreet_url, "main", credentials=credentials)

    with pytest.raises(SourceError) as caught:
        source.fetch()

    message = str(caught.value)
    assert TOKEN not in message
    assert message.startswith("octo/app/main: git fetch failed: remote: HTTP Basic: access denied for token *** | ")
    assert "403" in message and message.endswith(f"(source {indiscreet_url})")
