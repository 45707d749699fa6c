"""The README's "Testing handlers locally", run as written: terminal 1 starts the rig, terminal 2 sources the
env file and runs `chalice local --stage local`, terminal 3 sends the signed curl; the push ends deployed.

Two substitutions only, so the test does not collide with a developer's own rig: the state directory
(``--state-dir``, and ``.rig/`` in the sourced path) and the port (``--port``, and ``:8000`` in the URL);
terminal 3 stands in a directory of its own (its payload.json must not land in the checkout).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from localrig import services
from localrig.up import READY_LINE

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def readme_terminals() -> dict[int, list[str]]:
    """terminal number -> its commands, from the README section's first code block (continuations joined)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Testing handlers locally", 1)[1].split("\n## ", 1)[0]
    block: list[str] = []
    for line in section.splitlines():  # the section's first code block
        if line.startswith("    ") or (block and not line.strip()):
            block.append(line[4:])
        elif block:
            break
    terminals: dict[int, list[str]] = {}
    current = 0
    for line in "\n".join(block).replace("\\\n", " ").splitlines():
        marker = re.match(r"# terminal (\d)", line.strip())
        if marker:
            current = int(marker.group(1))
        elif line.strip():
            terminals.setdefault(current, []).append(line.strip())
    return terminals


def spawn(command: str, cwd: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(out, "wb") as sink:
        return subprocess.Popen(["bash", "-c", command], cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def stop(popen: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as in a terminal (to the whole foreground group: bash and what it runs)."""
    if popen.poll() is None:
        os.killpg(popen.pid, signal.SIGINT)
        try:
            popen.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(30)


def test_the_readme_s_three_terminals_end_deployed(tmp_path, docker_engine, base_image):
    terminals = readme_terminals()
    state, port = tmp_path / "state", services.free_port()

    def adapt(command: str) -> str:
        command = command.replace(".rig/", f"{state}/").replace(":8000/", f":{port}/")
        if command.endswith("-m localrig up"):
            command += f" --state-dir {state}"
        if command.endswith("chalice local --stage local"):
            command += f" --port {port}"
        return command

    env = dict(os.environ, DOCKER_HOST=docker_engine.host, PYTHONUNBUFFERED="1")
    # terminal 3 writes payload.json where it stands: a directory of its own, with the checkout's .venv
    terminal3 = tmp_path / "terminal3"
    terminal3.mkdir()
    (terminal3 / ".venv").symlink_to(ROOT / ".venv")
    env3 = dict(env, PYTHONPATH=str(ROOT))
    up = spawn(" && ".join(map(adapt, terminals[1])), ROOT, tmp_path / "terminal1.out", env)
    try:
        services.wait_until(lambda: READY_LINE in (tmp_path / "terminal1.out").read_text() or up.poll() is not None,
                            180, "terminal 1 (localrig up)")
        local = spawn(" && ".join(map(adapt, terminals[2])), ROOT, tmp_path / "terminal2.out", env)
        try:
            services.wait_until(lambda: "Serving on" in (tmp_path / "terminal2.out").read_text()
                                or local.poll() is not None, 60, "terminal 2 (chalice local)")
            curl = subprocess.run(["bash", "-c", " && ".join(map(adapt, terminals[3]))], cwd=terminal3, env=env3,
                                  capture_output=True, text=True, timeout=60)
            assert curl.returncode == 0, curl.stderr
            answer = json.loads(curl.stdout)
            assert answer["result"] == "published", answer
            deployed = re.compile(r"build result sample/production \w+ succeeded")
            services.wait_until(lambda: deployed.search((tmp_path / "terminal1.out").read_text()) is not None, 300,
                                "the build result of the curl's push")
        finally:
            stop(local)
    finally:
        stop(up)
    assert up.returncode == 0 and (tmp_path / "terminal1.out").read_text().rstrip().endswith("rig stopped")
