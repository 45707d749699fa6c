"""The IAM call ledger at the end of a pytest session that ran end-to-end tests: the table, and a red exit on a
denied call (or an unused action without a written reason, when every e2e story ran).

Why the session's basetemp: every rig a test makes lives under its tmp_path (fixtures and tests that build
their own LocalRig alike), and pytest gives each session a new basetemp, so scanning it finds exactly this
session's runs, with no fixture having to cooperate and no earlier run mixed in. Why a sessionfinish hook and
not a test: a test can be deselected or skipped; the hook runs whenever the session made a rig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localrig.ledger.context import CONTEXT_FILE
from localrig.ledger.verdicts import Verdicts, judge_runs, table

E2E = Path(__file__).resolve().parent
_KEY = pytest.StashKey[dict[str, Any]]()


def state(config: pytest.Config) -> dict[str, Any]:
    if _KEY not in config.stash:
        config.stash[_KEY] = {"collected": set(), "deselected": 0, "skipped": 0}
    return config.stash[_KEY]


def collected(config: pytest.Config, items: list[pytest.Item]) -> None:
    state(config)["collected"].update(Path(i.path) for i in items if Path(i.path).is_relative_to(E2E))


def deselected(config: pytest.Config, items: list[pytest.Item]) -> None:
    state(config)["deselected"] += sum(1 for i in items if Path(i.path).is_relative_to(E2E))


def reported(config: pytest.Config, report: pytest.TestReport) -> None:
    if report.skipped and (config.rootpath / report.nodeid.split("::")[0]).resolve().is_relative_to(E2E):
        state(config)["skipped"] += 1


def every_story_ran(config: pytest.Config) -> bool:
    """Every e2e module collected, none of its tests deselected or skipped."""
    found = state(config)
    modules = {p for p in E2E.glob("test_*.py")}
    return found["collected"] == modules and not found["deselected"] and not found["skipped"]


def finish(session: pytest.Session) -> None:
    # pytest's basetemp exists only once a test asked for tmp_path (no public accessor that would not create it)
    basetemp = getattr(getattr(session.config, "_tmp_path_factory", None), "_basetemp", None)
    if basetemp is None:
        return
    runs = sorted(p.parent for p in Path(basetemp).rglob(CONTEXT_FILE))
    if not runs:
        return
    verdicts = judge_runs(runs, Verdicts())
    complete = every_story_ran(session.config)
    failures = verdicts.failures(complete)
    state(session.config).update(table=table(verdicts, complete), failures=failures)
    if failures and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def summary(terminal: Any, config: pytest.Config) -> None:
    found = state(config)
    if "table" not in found:
        return
    terminal.write_sep("=", "IAM call ledger (localrig/ledger)", red=bool(found["failures"]))
    terminal.write_line(found["table"])
    for failure in found["failures"]:
        terminal.write_line(f"LEDGER FAIL {failure}", red=True)
