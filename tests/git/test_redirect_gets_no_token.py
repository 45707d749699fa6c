"""The token is offered only to the host the pipeline names: when that host redirects git elsewhere, the
other host asks for credentials and gets none (the helper is scoped to ``scheme://host:port``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.aws import make_clients
from agent.git.credentials import check_source, credentials_for
from agent.git.source import GitSource, SourceError


@pytest.fixture
def redirecting_to(hosted) -> Iterator[str]:
    """A real HTTP server on another port that sends every request on to the authenticated git server."""
    target = hosted.server.url

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{hosted.repo.bare.name}"
    server.shutdown()
    server.server_close()


def test_the_host_redirected_to_gets_no_token(aws, hosted, redirecting_to, tmp_path):
    aws.client("ssm").put_parameter(Name="/pushdeploy/git/sample", Value=hosted.token, Type="SecureString")
    auth = check_source(redirecting_to, {"source_token": "ssm:/pushdeploy/git/sample"})
    source = GitSource(tmp_path / "cache", "sample/production", redirecting_to, "production",
                       credentials=credentials_for(auth, make_clients("us-east-1")))

    with pytest.raises(SourceError) as caught:
        source.fetch()

    assert "could not read Username" in str(caught.value) or "Authentication failed" in str(caught.value)
    assert not any(" 200 " in line for line in hosted.server.log_tail(50).splitlines() if "info/refs" in line)
