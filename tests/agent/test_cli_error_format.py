"""One failure format for every command: `PROG: error: REASON` on stderr, argparse's own usage errors
included (argparse says `pushdeploy-agent deploy: error:` for a subcommand unless told otherwise)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "127.0.0.1:5000/production/sample:20261126120000-bbbbbbb"


def _last_line(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(env or os.environ, PYTHONPATH=str(ROOT)), check=False)
    return done.returncode, done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [
    ["-m", "agent", "frobnicate"],                                   # argparse, top level
    ["-m", "agent", "deploy", "--cluster", "c"],                     # argparse, in a subcommand
    ["-m", "agent", "deploy", "--cluster", "c", "--service", "web", "--image", IMAGE, "--keep-revisions", "-1"],
    ["-m", "agent", "diff", "--cluster", "c", "--service", "web", "--image", "Not An Image"],  # deploy_cli
    ["-m", "agent", "build", "--config", "/nonexistent/agent.toml", "--pipeline", "a/b"],      # cli
])
def test_agent_errors_have_one_prefix(argv: list[str]) -> None:
    status, line = _last_line(*argv)
    assert status != 0
    assert re.match(r"^pushdeploy-agent: error: \S", line), line


@pytest.mark.parametrize("argv", [["-m", "infra", "record", "--stage", "prod"],             # argparse
                                  ["-m", "infra", "output", "--stack", "absent", "Key"]])   # the command
def test_infra_errors_have_the_same_shape(aws: object, argv: list[str]) -> None:
    status, line = _last_line(*argv)
    assert status == 2
    assert re.match(r"^python -m infra: error: \S", line), line


def test_localrig_errors_have_the_same_shape(tmp_path: Path) -> None:
    status, line = _last_line("-m", "localrig", "github-payload", "--repository", "x", "--branch", "main",
                              "--run-dir", str(tmp_path))
    assert status != 0
    assert re.match(r"^python -m localrig: error: \S", line), line
