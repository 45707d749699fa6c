"""The tests' and benchmark's headless Chromium: localrig/chromium.py's (shared with the demo), plus what a
test does when it is missing."""

from __future__ import annotations

import os

import pytest

from localrig.chromium import ARGS, CHROMEDRIVER, CHROMIUM, missing, start

__all__ = ["ARGS", "CHROMEDRIVER", "CHROMIUM", "chromium_present", "start"]


def chromium_present() -> None:
    """Chromium missing: fail in CI (the test must run there), skip with the reason elsewhere."""
    why = missing((CHROMIUM, CHROMEDRIVER))
    if why:
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
