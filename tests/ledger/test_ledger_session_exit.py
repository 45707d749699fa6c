"""A pytest session that made a rig whose ledger holds a denied call exits non-zero and prints the table, even
though every test passed: the verdict is a sessionfinish hook (tests/e2e/conftest.py), not a test one could
deselect. Run as a real pytest child on a scratch directory whose conftest takes the e2e hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ledger.test_ledger_verdicts import CALLS, context

REPO = Path(__file__).resolve().parents[2]
CONFTEST = """
from tests.e2e.conftest import (pytest_collection_modifyitems, pytest_configure, pytest_deselected,
                                pytest_runtest_logreport, pytest_sessionfinish, pytest_terminal_summary)
"""
TEST = """
import json
from pathlib import Path

def test_a_rig_ran(tmp_path):
    rig = tmp_path / "rig"
    rig.mkdir()
    source = Path(__file__).parent
    (rig / "ledger-context.json").write_text((source / "context.json").read_text())
    (rig / "ledger.jsonl").write_text((source / "ledger.jsonl").read_text())
"""


def _session(tmp_path: Path, calls: list[dict]) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_rig.py").write_text(TEST)
    (project / "context.json").write_text(json.dumps(context()))
    (project / "ledger.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project),
                           "--basetemp", str(tmp_path / "basetemp"), str(project)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_denied_call_fails_a_session_whose_tests_passed(scratch: Path) -> None:
    done = _session(scratch, CALLS)  # outside this session's basetemp, which its own ledger report judges
    assert "1 passed" in done.stdout
    assert "IAM call ledger" in done.stdout and "DENIED close sqs SendMessage" in done.stdout
    assert done.returncode == 1, done.stdout[-2000:]


def test_a_clean_ledger_leaves_the_session_green(scratch: Path) -> None:
    done = _session(scratch, CALLS[:3])
    assert "denied calls: 0" in done.stdout
    assert done.returncode == 0, done.stdout[-2000:]
