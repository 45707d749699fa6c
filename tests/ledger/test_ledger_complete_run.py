"""An unused action without a reason (or a stale reason) fails only a run of every story: every end-to-end module
collected, and none of their tests deselected or skipped. A partial run (``-k``, one module, a skip) leaves actions
unused by design, and must not be failed for it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.e2e import ledger_report
from tests.e2e.ledger_report import E2E, every_story_ran

MODULES = sorted(E2E.glob("test_*.py"))


def session(collected: list[Path], deselected: int = 0, skipped: int = 0) -> SimpleNamespace:
    config = SimpleNamespace(stash=pytest.Stash())
    ledger_report.state(config).update(collected=set(collected), deselected=deselected, skipped=skipped)
    return config


def test_every_module_collected_and_nothing_left_out_is_a_complete_run() -> None:
    assert len(MODULES) > 10
    assert every_story_ran(session(MODULES))


@pytest.mark.parametrize("left_out", ["a module", "a deselected test", "a skipped test"])
def test_anything_left_out_is_a_partial_run(left_out: str) -> None:
    config = {"a module": session(MODULES[1:]), "a deselected test": session(MODULES, deselected=1),
              "a skipped test": session(MODULES, skipped=1)}[left_out]
    assert not every_story_ran(config)
