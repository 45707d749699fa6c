"""A real `chalice local --stage local` process, as a user runs it, serving the app's routes on the rig.

The child is the .venv's own `chalice` CLI with the repository as its project directory and the
environment a shell gets from `python -m localrig up`'s env file. It runs with ``--no-autoreload``:
with the reloader, `chalice local` is two processes and a SIGTERM to the parent leaves the server
running; without it, one process that a SIGTERM ends. It is ready once it answers HTTP at all
(a path without a route answers 403 ``Missing Authentication Token``, which is still an answer).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localrig import services
from localrig.lambdas.local_stage import LOCAL_STAGE, REPO_ROOT

START_TIMEOUT = 60.0
PORT_ATTEMPTS = 3  # a free port can be taken by someone else between choosing it and chalice binding it


class ChaliceLocalError(RuntimeError):
    """`chalice local` did not start or stopped answering; the message carries its log's tail."""


@dataclass
class ChaliceLocal(services.Process):
    url: str = ""

    def answers(self) -> bool:
        """True when the server answered an HTTP request (any status)."""
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


def chalice_cli() -> str:
    """The `chalice` next to this interpreter (the .venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "chalice"
    if beside.exists():
        return str(beside)
    found = shutil.which("chalice")
    if found is None:
        raise ChaliceLocalError("no chalice CLI next to this Python or on PATH (pip install chalice)")
    return found


def start(env: Mapping[str, str], log_path: Path, stage: str = LOCAL_STAGE, project_dir: Path = REPO_ROOT,
          port: int | None = None, timeout: float = START_TIMEOUT) -> ChaliceLocal:
    """Start `chalice local` on ``port`` (a free one when None) and return it once it answers."""
    problem = ""
    for _ in range(PORT_ATTEMPTS if port is None else 1):
        server = _spawn(env, log_path, stage, project_dir, port or services.free_port())
        if _answers_or_exits(server, timeout):
            return server
        problem = server.log_tail(30)
        if "Address already in use" not in problem:
            break
    raise ChaliceLocalError(f"chalice local --stage {stage} exited at start:\n{problem}")


def _answers_or_exits(server: ChaliceLocal, timeout: float) -> bool:
    """True once it answers; False if it exits first; stopped and raised if it does neither in time."""
    try:
        services.wait_until(lambda: server.answers() or not server.alive(), timeout, f"chalice local at {server.url}")
    except services.ServiceError as exc:
        server.stop()
        raise ChaliceLocalError(f"{exc}:\n{server.log_tail(30)}") from exc
    return server.alive()


def _spawn(env: Mapping[str, str], log_path: Path, stage: str, project_dir: Path, port: int) -> ChaliceLocal:
    argv = [chalice_cli(), "--project-dir", str(project_dir), "local", "--stage", stage, "--host", "127.0.0.1",
            "--port", str(port), "--no-autoreload"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(env, PYTHONUNBUFFERED="1"),
                                 cwd=project_dir, start_new_session=True)
    return ChaliceLocal("chalice-local", popen, log_path, url=f"http://127.0.0.1:{port}")
