"""`--version` on every command-line entry point, and the agent's matching its package metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import agent

ROOT = Path(__file__).resolve().parents[2]


def test_agent_version_is_the_package_version() -> None:
    project = tomllib.loads((ROOT / "agent" / "pyproject.toml").read_text())["project"]
    assert agent.__version__ == project["version"]


@pytest.mark.parametrize(("module", "prog"), [("agent", "pushdeploy-agent"), ("infra", "python -m infra"),
                                              ("localrig", "python -m localrig")])
def test_version_prints_the_name_and_version(module: str, prog: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--version"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{prog} {agent.__version__}\n"
