"""The demo's picture of the dashboard: `GET /dashboard` under the rig's `chalice local`, opened in headless
Chromium once it lists the builds the stories made, saved as ``dashboard.png`` next to timeline.svg. The page
loads the history once and then every 30 s, while the `history` function may still be writing the last build,
so the page is reloaded until every build is there with its step bars and the pipelines' status is drawn (it
comes from a slower request, `GET /status`), or the deadline passes."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.contracts import BuildResult
from localrig import chromium

# How many step bars each wanted build's list item shows (-1: the build is not listed).
BARS = """return arguments[0].map((id) => {
  const item = document.querySelector('[data-build-id="' + CSS.escape(id) + '"]');
  return item ? item.querySelectorAll('.steps .bar').length : -1;
});"""
STATUS_DRAWN = "return document.querySelector('#pipelines [data-service]') !== null"
SIZE = (1280, 900)


@dataclass
class Shown:
    picture: Path
    listed: int  # builds listed with as many step bars as the build has steps
    wanted: int


def capture(url: str, results: Sequence[BuildResult], picture: Path, timeout: float = 60.0) -> Shown:
    """Open ``url``/dashboard until it lists every build of ``results`` with its step bars (and shows the
    pipelines' status); save the page."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        driver = chromium.start(Path(profile), SIZE)
        try:
            listed = _wait_listed(driver, f"{url}/dashboard", results, timeout)
            _save_full_page(driver, picture)
        finally:
            driver.quit()
    return Shown(picture, listed, len(results))


def _wait_listed(driver: Any, page: str, results: Sequence[BuildResult], timeout: float) -> int:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    ids, steps = [r.build_id or "" for r in results], [len(r.steps) for r in results]
    listed = lambda d: sum(bars == want for bars, want in zip(d.execute_script(BARS, ids), steps, strict=True))  # noqa: E731
    deadline = time.monotonic() + timeout
    while True:
        driver.get(page)
        try:
            WebDriverWait(driver, min(10.0, max(0.1, deadline - time.monotonic())), poll_frequency=0.2).until(
                lambda d: listed(d) == len(ids) and d.execute_script(STATUS_DRAWN))
            return len(ids)
        except TimeoutException:
            if time.monotonic() >= deadline:
                return int(listed(driver))


def _save_full_page(driver: Any, picture: Path) -> None:
    """The whole page at the desktop width: grow the window to the page's height (it settles once laid out)."""
    for _ in range(3):
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(SIZE[0], max(SIZE[1], min(height + 100, 6000)))
    picture.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(picture))
