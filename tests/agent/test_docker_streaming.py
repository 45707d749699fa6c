"""Docker's output reaches the build log while docker runs, only a bounded tail stays in memory, and a
build that runs past its deadline is killed with its last lines kept (in the error and in the log)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from agent.docker.image import Docker, ImageError
from agent.docker.streaming import TAIL_BYTES, TAIL_LINES

pytestmark = pytest.mark.docker


@pytest.fixture
def docker_and_log(docker_engine, base_image, tmp_path):
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    log: list[str] = []
    return Docker({"DOCKER_HOST": docker_engine.host, "DOCKER_CONFIG": str(config_dir)}, detail=log.append), log


def test_a_line_reaches_the_build_log_while_docker_is_still_running(docker_and_log, base_image, tmp_path):
    """The container waits for a file that only the build log's sink creates, on seeing the first line:
    output held back until docker exits would leave it waiting until the timeout."""
    signal_dir = tmp_path / "signal"
    signal_dir.mkdir()
    runner, log = docker_and_log

    def sink(line: str) -> None:
        log.append(line)
        if line == "first line":
            (signal_dir / "go").write_text("")

    runner.detail = sink
    # bounded wait (60 s) so that a failing run leaves no container behind on the shared engine
    script = ("echo 'first line'; i=0; while [ ! -e /signal/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;"
              " test -e /signal/go && echo 'seen the signal'")
    runner.run("wait for the log", "run", "--rm", "--network", "none", "-v", f"{signal_dir}:/signal", base_image,
               "sh", "-c", script, timeout=120)

    assert log[-2:] == ["first line", "seen the signal"]


def test_only_a_bounded_tail_of_a_loud_command_is_kept_in_memory(docker_and_log, base_image):
    runner, log = docker_and_log

    done = runner.run("count", "run", "--rm", "--network", "none", base_image, "busybox", "seq", "1", "100000",
                      timeout=300)

    assert len(log) == 100_000 and log[0] == "1" and log[-1] == "100000"  # all of it went to the build log
    kept = done.stdout.splitlines()
    assert len(kept) <= TAIL_LINES and len(done.stdout) <= TAIL_BYTES + 1
    assert kept[-1] == "100000"


HANGS = """FROM local/busybox:latest
ARG token=unset
RUN echo "connecting with $token" && echo "waiting for the package mirror {marker}" && sleep 120
"""


def test_a_build_past_its_deadline_is_killed_and_keeps_its_last_lines(docker_engine, base_image, tmp_path):
    marker = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(HANGS.format(marker=marker))
    log: list[str] = []
    runner = Docker({"DOCKER_HOST": docker_engine.host}, detail=log.append, build_timeout=40)

    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", [f"imgtest/hangs:{marker[:8]}"], [("token", "s3cr3t-xyz")])

    reason = str(caught.value)
    assert reason.startswith(f"build imgtest/hangs:{marker[:8]}: docker build timed out after 40s; last output: ")
    assert reason.endswith(f"connecting with *** | waiting for the package mirror {marker}")
    assert "s3cr3t-xyz" not in reason
    assert any(line.endswith(f"waiting for the package mirror {marker}") for line in log)
    assert log[-1] == "docker build timed out after 40s and was killed"
    assert not _processes_naming(f"imgtest/hangs:{marker[:8]}")  # the docker client is gone, not orphaned


def test_a_step_that_prints_more_than_the_tail_still_names_its_own_last_lines(docker_and_log, tmp_path):
    runner, _ = docker_and_log
    (tmp_path / "Dockerfile").write_text(
        "FROM local/busybox:latest\nRUN busybox seq 1 20000 && echo 'the migration table is locked' && exit 4\n")

    with pytest.raises(ImageError) as caught:
        runner.build(tmp_path, tmp_path / "Dockerfile", ["imgtest/loud-failure:1"])

    assert str(caught.value) == (
        "build imgtest/loud-failure:1: 19999 | 20000 | the migration table is locked | The command '/bin/sh -c "
        "busybox seq 1 20000 && echo 'the migration table is locked' && exit 4' returned a non-zero code: 4")


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found
