"""The rig's hosted-git stand-in: real smart HTTP (``git http-backend`` as CGI) behind a token.

GitHub, GitLab and Bitbucket all serve git over smart HTTP and want HTTP Basic auth with a token
as the password. This server does the same with the real backend, so the agent's credential
helper is tested against a server that really says 401 without it: clone, fetch and push all
work, and every request without the token gets ``401`` + ``WWW-Authenticate``.

It runs as a child process (``python -m localrig.git.git_http``), like moto and the registry: its
own process group, SIGTERM stops it cleanly (exit 0). The token reaches it through the
environment (``PUSHDEPLOY_GIT_HTTP_TOKEN``), never argv. ``start(root_dir, token)`` returns
a handle with ``.url`` (``http://127.0.0.1:PORT``; a repository ``root_dir/app.git`` is
``.url + "/app.git"``) and ``.stop()``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import unquote, urlsplit

from localrig.services import Process, ServiceError, _spawn, free_port, ready_or_stopped

BACKEND = "/usr/lib/git-core/git-http-backend"
TOKEN_ENV = "PUSHDEPLOY_GIT_HTTP_TOKEN"
REALM = "pushdeploy rig git"
_CHUNK = 64 * 1024


def _backend() -> str:
    """The backend lives in git's exec path, which is not on PATH; ask git where that is."""
    if os.path.exists(BACKEND):
        return BACKEND
    try:
        exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"git is not installed (apt-get install git): {exc}") from exc
    candidate = os.path.join(exec_path, "git-http-backend")
    if not os.path.exists(candidate):
        raise ServiceError(f"git-http-backend not found in {exec_path} (apt-get install git)")
    return candidate


def token_matches(header: str | None, token: bytes) -> str | None:
    """The Basic-auth user name when the password is the token (compared in constant time), else None.

    Any user name is accepted, as GitHub accepts ``x-access-token`` and GitLab a deploy token's name.
    """
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(password, token):
        return None
    return user.decode("utf-8", "replace") or "token"


class _Handler(BaseHTTPRequestHandler):
    server: _GitServer
    protocol_version = "HTTP/1.0"  # one response per connection: the body ends when the connection closes

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        # One line per request, no headers (they carry the credential), to the server's log.
        sys.stderr.write(f"git-http {self.address_string()} {format % args}\n")

    def _serve(self) -> None:
        user = token_matches(self.headers.get("Authorization"), self.server.token)
        if user is None:
            self._refuse()
            return
        path = unquote(urlsplit(self.path).path)
        if ".." in path.split("/"):
            self.send_error(404, "no such repository")
            return
        self._run_backend(user, path, urlsplit(self.path).query)

    def _refuse(self) -> None:
        body = b"authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._drain_body()

    def _drain_body(self) -> None:
        """Read what the client sent, so closing the socket does not reset the 401 before it is read."""
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(min(int(length), 1 << 20))

    def _cgi_env(self, user: str, path: str, query: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # Push works because REMOTE_USER is set; say so explicitly, as the brief of the rig does.
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.receivepack", "GIT_CONFIG_VALUE_0": "true",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": "pushdeploy-rig-git-http", "REQUEST_METHOD": self.command,
            "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_USER": user, "AUTH_TYPE": "Basic",
            "REMOTE_ADDR": self.client_address[0], "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        length = self.headers.get("Content-Length")
        if length is not None and not self._chunked():
            env["CONTENT_LENGTH"] = length  # absent (chunked): the backend reads its stdin to EOF
        for header, name in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
            if self.headers.get(header):
                env[name] = self.headers[header]
        return env

    def _chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _run_backend(self, user: str, path: str, query: str) -> None:
        proc = subprocess.Popen([self.server.backend], env=self._cgi_env(user, path, query), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=sys.stderr)
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=self._feed, args=(proc.stdin,), daemon=True)
        feeder.start()  # a thread: the backend may answer while the request body is still coming
        try:
            self._relay(proc.stdout)
        finally:
            feeder.join(timeout=60)
            proc.stdout.close()
            proc.wait(timeout=60)

    def _feed(self, stdin: IO[bytes]) -> None:
        try:
            if self._chunked():
                _copy_chunked(self.rfile, stdin)
            else:
                remaining = int(self.headers.get("Content-Length") or 0)
                while remaining > 0:
                    data = self.rfile.read(min(remaining, _CHUNK))
                    if not data:
                        break
                    stdin.write(data)
                    remaining -= len(data)
        except (BrokenPipeError, ConnectionError, ValueError):
            pass  # the backend stopped reading (it refused the request) or the client went away
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass

    def _relay(self, stdout: IO[bytes]) -> None:
        """CGI response: headers (``Status:`` among them) up to a blank line, then the body, streamed."""
        status, headers = 200, []
        for raw in iter(stdout.readline, b""):
            line = raw.rstrip(b"\r\n").decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split(" ", 1)[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        shutil.copyfileobj(stdout, self.wfile, _CHUNK)


def _copy_chunked(source: BinaryIO, sink: IO[bytes]) -> None:
    """Decode an HTTP/1.1 chunked request body (git sends large pushes this way) into ``sink``."""
    while True:
        size_line = source.readline(1024)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while source.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return
        remaining = size
        while remaining > 0:
            data = source.read(min(remaining, _CHUNK))
            if not data:
                return
            sink.write(data)
            remaining -= len(data)
        source.readline(16)  # the CRLF after each chunk


class _GitServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, token: bytes, backend: str) -> None:
        super().__init__(address, _Handler)
        self.root, self.token, self.backend = root, token, backend


def serve(root: Path, token: str, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then close the socket and return (exit status 0)."""
    server = _GitServer((host, port), root.resolve(), token.encode(), _backend())

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()  # shutdown() waits for serve_forever

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"git-http serving {root} on http://{host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


# ---------------------------------------------------------------- the rig part


@dataclass
class GitHttpServer(Process):
    url: str = ""
    root: Path | None = None


def _answers_401(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/", timeout=1).close()
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (urllib.error.URLError, OSError):
        return False
    return False


def start(root_dir: str | os.PathLike[str], token: str, log_path: Path | None = None) -> GitHttpServer:
    """Serve the bare repositories under ``root_dir`` on a free loopback port, behind ``token``."""
    if not token:
        raise ServiceError("git-http: an empty token would let anyone in")
    root = Path(root_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _backend()
    port = free_port()
    env = dict(os.environ, **{TOKEN_ENV: token})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                      env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "localrig.git.git_http", "--root", str(root), "--port", str(port)]
    proc = _spawn("git-http", argv, log_path or root.parent / f"git-http-{port}.log", env)
    server = GitHttpServer(proc.name, proc.popen, proc.log_path, url=f"http://127.0.0.1:{port}", root=root)
    ready_or_stopped(server, lambda: _answers_401(server.url), 30, "git http server")
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrig.git.git_http", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="directory holding the bare repositories")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"set {TOKEN_ENV} (the token clients must send as the Basic-auth password)")
    serve(args.root, token, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
