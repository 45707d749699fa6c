"""Fixtures of the ledger's own tests."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory outside the session's basetemp, for ledgers a test plants on purpose: the session's own ledger
    report (tests/e2e/ledger_report.py) judges every ledger-context.json under the basetemp, and must not judge a
    planted denial as the run's."""
    with tempfile.TemporaryDirectory(prefix="pushdeploy-ledger-test-") as path:
        yield Path(path)
