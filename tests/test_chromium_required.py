"""The dashboard's browser tests cannot pass unnoticed without Chromium: in CI (``CI`` set) a missing
chromium or chromedriver fails them; elsewhere they skip with what to install."""

from __future__ import annotations

import pytest

from tests import chromium


@pytest.mark.parametrize("part", ["CHROMIUM", "CHROMEDRIVER"])
def test_a_missing_part_fails_in_ci_and_skips_elsewhere(part, monkeypatch, tmp_path):
    monkeypatch.setattr(chromium, part, tmp_path / "not-installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="scripts/setup.sh installs chromium and chromium-driver"):
        chromium.chromium_present()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not-installed not installed"):
        chromium.chromium_present()
