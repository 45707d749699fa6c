"""The rig's git server is real smart HTTP behind a token: without the token every request gets 401 with
WWW-Authenticate; with it, clone, fetch and push work with the real git client, gzip request bodies
included; and it stops cleanly."""

from __future__ import annotations

import base64
import gzip
import os
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.agent.agentrig import git


def client(*args: str, cwd, token: str | None) -> subprocess.CompletedProcess[str]:
    """The git client with the token from a helper (as a developer's credential store would give it)."""
    helper = [] if token is None else \
        ["-c", f"credential.helper=!f() {{ echo username=dev; echo password={token}; }}; f"]
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="d@example.com",
               GIT_COMMITTER_NAME="Dev", GIT_COMMITTER_EMAIL="d@example.com")
    return subprocess.run(["git", "-c", "credential.helper=", *helper, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=env)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("authorization", [None, "wrong", "Bearer x", "Basic !!!"])
def test_without_the_token_every_request_is_refused_with_401(hosted, authorization):
    request = urllib.request.Request(f"{hosted.url}/info/refs?service=git-upload-pack")
    if authorization == "wrong":
        authorization = basic("x-access-token", hosted.token + "x")
    if authorization:
        request.add_header("Authorization", authorization)

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)

    assert caught.value.code == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_clone_fetch_and_push_with_the_token(hosted, tmp_path):
    cloned = client("clone", "-q", "--branch", "production", hosted.url, str(tmp_path / "clone"), cwd=tmp_path,
                    token=hosted.token)
    assert cloned.returncode == 0, cloned.stderr
    work = tmp_path / "clone"
    (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # over http.postBuffer: a chunked POST
    assert client("add", "big.bin", cwd=work, token=None).returncode == 0
    assert client("commit", "-qm", "big", cwd=work, token=None).returncode == 0

    pushed = client("push", "-q", "origin", "HEAD:refs/heads/production", cwd=work, token=hosted.token)

    assert pushed.returncode == 0, pushed.stderr
    assert git(hosted.repo.bare, "rev-parse", "production") == git(work, "rev-parse", "HEAD")
    fetched = client("fetch", "-q", hosted.url, "production", cwd=hosted.repo.work, token=hosted.token)
    assert fetched.returncode == 0, fetched.stderr
    assert git(hosted.repo.work, "rev-parse", "FETCH_HEAD") == git(work, "rev-parse", "HEAD")


def test_clone_with_a_wrong_token_fails_authentication(hosted, tmp_path):
    cloned = client("clone", "-q", hosted.url, str(tmp_path / "clone"), cwd=tmp_path, token="not-the-token")

    assert cloned.returncode != 0
    assert "Authentication failed" in cloned.stderr
    assert not (tmp_path / "clone").exists()


def pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}{line}".encode()


def test_a_gzip_request_body_is_decoded_by_the_backend(hosted):
    """git gzips large upload-pack requests (Content-Encoding: gzip); the backend must be told so."""
    body = gzip.compress(pkt("command=ls-refs\n") + b"0001" + pkt("peel\n") + b"0000")
    request = urllib.request.Request(f"{hosted.url}/git-upload-pack", data=body, method="POST", headers={
        "Authorization": basic("x-access-token", hosted.token), "Content-Encoding": "gzip",
        "Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2"})

    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read()

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert git(hosted.repo.bare, "rev-parse", "production").encode() + b" refs/heads/production" in answer


def test_it_stops_cleanly_and_frees_its_port(hosted):
    port = int(hosted.server.url.rsplit(":", 1)[1])

    hosted.server.stop()

    assert hosted.server.popen.returncode == 0
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
