"""Start the rig's Lambda host (``python -m localrig.lambdas.lambda_host``) on a test app, as the rig does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localrig import services

REPO = Path(__file__).parent.parent


@contextmanager
def running_host(app_dir: Path, stage_env: dict[str, str], work: Path,
                 moto_server: services.MotoServer) -> Iterator[tuple[str, Path]]:
    """The host serving ``app_dir``'s app with ``stage_env``; yields its URL and its journal."""
    env_file, port_file, journal = work / "env.json", work / "port", work / "journal.jsonl"
    env_file.write_text(json.dumps(stage_env))
    env = dict(os.environ, **moto_server.client_env(), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "localrig.lambdas.lambda_host", "--app-dir", str(app_dir),
                             "--env-file", str(env_file), "--journal", str(journal), "--port-file", str(port_file)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        services.wait_until(lambda: port_file.exists() or proc.poll() is not None, 60, "the lambda host")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        yield f"http://127.0.0.1:{port_file.read_text()}", journal
    finally:
        proc.terminate()
        proc.wait(timeout=10)
