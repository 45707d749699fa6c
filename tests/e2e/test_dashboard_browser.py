"""The dashboard in real headless Chromium (Debian's chromium + chromium-driver, driven by selenium), served
by a real `chalice local --stage local` against the rig after three things happened: a successful build (its
commit subject carries HTML, which must show as text), a failed build, and a hand deploy of the service
(drift). The page must list both builds with their step timelines, show the failure's reason, flag the drift,
let the keyboard reach and use its refresh button, and fit a phone's width. Screenshots are saved as test
artefacts (tests/artifacts/, ignored by git; their paths are printed)."""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.contracts import BuildResult
from localrig import services, stories
from localrig.rig import LocalRig
from tests import chromium
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOSTILE_SUBJECT = 'story 1 <img src=x onerror="window.__xss=1">'
PHONE = (390, 844)
LOAD_TIMEOUT = 30.0


def hand_deploy(rig: LocalRig) -> str:
    """What someone does in the console: a new revision of the task definition, set on the service by hand."""
    ecs = rig.client("ecs")
    running = ecs.describe_task_definition(taskDefinition=rig.service_task_definition(SAMPLE))["taskDefinition"]
    new = ecs.register_task_definition(family=running["family"],
                                       containerDefinitions=running["containerDefinitions"])["taskDefinition"]
    ecs.update_service(cluster=SAMPLE.cluster, service=SAMPLE.service, taskDefinition=new["taskDefinitionArn"])
    return new["taskDefinitionArn"]


def recorded(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/builds?limit=100", timeout=10) as resp:
        return [b["build_id"] for b in json.load(resp)["builds"]]


@pytest.fixture(scope="module")
def happened(tmp_path_factory, docker_engine, base_image) -> Iterator[tuple[str, list[BuildResult]]]:
    """(chalice local URL, the builds' results) once the stories and the hand deploy are done."""
    rig = LocalRig(tmp_path_factory.mktemp("rig"), [SAMPLE], engine=docker_engine).start()
    try:
        for report in (stories.one_push(rig, SAMPLE, label=HOSTILE_SUBJECT), stories.failing_build(rig, SAMPLE)):
            assert report.passed, [c for c in report.checks if not c.ok]
        hand_deploy(rig)
        results = rig.build_results()
        url = rig.start_chalice_local()
        services.wait_until(lambda: set(recorded(url)) >= {r.build_id for r in results}, 60,
                            "the history of both builds")
        yield url, results
    finally:
        rig.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium.chromium_present()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        driver = chromium.start(Path(profile))
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def page(happened, browser):
    """The dashboard, loaded: both builds listed and the pipelines' status drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, results = happened
    browser.get(f"{url}/dashboard")
    wanted = {r.build_id for r in results}

    def loaded(driver) -> bool:
        shown = {e.get_attribute("data-build-id") for e in driver.find_elements(By.CSS_SELECTOR, "[data-build-id]")}
        return wanted <= shown and bool(driver.find_elements(By.CSS_SELECTOR, "#pipelines [data-service]"))

    WebDriverWait(browser, LOAD_TIMEOUT).until(loaded)
    return browser


def save(browser, name: str, size: tuple[int, int], capsys: pytest.CaptureFixture[str]) -> Path:
    """A full-page screenshot at ``size``'s width; its path is printed even while pytest captures output."""
    browser.set_window_size(*size)
    for _ in range(3):  # the height settles once the new width is laid out
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(size[0], max(size[1], min(height + 100, 6000)))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    with capsys.disabled():
        print(f"\ndashboard screenshot: {path}")
    return path


def build_item(browser, result: BuildResult):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'[data-build-id="{result.build_id}"]')


def test_it_lists_each_build_with_outcome_commit_duration_and_step_bars(page, happened):
    from selenium.webdriver.common.by import By

    _, results = happened
    assert sorted(r.outcome for r in results) == ["failed", "succeeded"]
    for result in results:
        item = build_item(page, result)
        assert item.get_attribute("data-outcome") == result.outcome
        assert result.outcome in item.text and result.commit[:12] in item.text and "took " in item.text
        bars = item.find_elements(By.CSS_SELECTOR, ".steps .bar")
        assert [s.get_attribute("data-step") for s in item.find_elements(By.CSS_SELECTOR, ".steps .step")] == [
            s.name for s in result.steps]
        assert bars and all(bar.size["width"] > 0 for bar in bars)
    succeeded = next(r for r in results if r.outcome == "succeeded")
    assert [s.name for s in succeeded.steps] == ["source", "login", "build", "push", "register", "update",
                                                 "rollout_wait"]


def test_the_failed_build_shows_its_reason(page, happened):
    from selenium.webdriver.common.by import By

    failed = next(r for r in happened[1] if r.outcome == "failed")
    reason = build_item(page, failed).find_element(By.CSS_SELECTOR, ".reason")
    assert reason.is_displayed()
    assert stories.FAIL_MESSAGE.format(reason=stories.FAIL_REASON) in reason.text


def test_the_hand_deploy_is_flagged_as_drift(page):
    from selenium.webdriver.common.by import By

    card = page.find_element(By.CSS_SELECTOR, f'#pipelines [data-pipeline="{SAMPLE.key}"]')
    flag = card.find_element(By.CSS_SELECTOR, f'[data-service="{SAMPLE.service}"] [data-drift="true"]')
    assert flag.is_displayed() and "Drift" in flag.text
    assert "something pushdeploy did not deploy" in page.find_element(By.ID, "drift-summary").text


def test_a_commit_subject_is_shown_as_text_never_run_as_html(page, happened):
    from selenium.webdriver.common.by import By

    succeeded = next(r for r in happened[1] if r.outcome == "succeeded")
    item = build_item(page, succeeded)
    assert HOSTILE_SUBJECT in item.find_element(By.CSS_SELECTOR, ".subject").text
    assert page.find_elements(By.CSS_SELECTOR, "main img") == []
    assert page.execute_script("return window.__xss") is None


def test_the_keyboard_reaches_the_refresh_button_and_refreshing_is_announced(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    page.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    focused = []
    for _ in range(5):
        ActionChains(page).send_keys(Keys.TAB).perform()
        focused.append(page.execute_script("return document.activeElement.id || document.activeElement.className"))
        if focused[-1] == "refresh":
            break
    assert focused[-1] == "refresh", f"tab order: {focused}"
    outline = page.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "no visible focus on the refresh button"
    ActionChains(page).send_keys(Keys.ENTER).perform()
    announce = page.find_element(By.ID, "announce")
    assert announce.get_attribute("role") == "status" and announce.get_attribute("aria-live") == "polite"
    WebDriverWait(page, 10).until(lambda d: announce.get_attribute("textContent").startswith("Refreshed:"))


def test_it_fits_a_phone_and_the_screenshots_are_saved(page, capsys):
    desktop = save(page, "dashboard.png", (1280, 900), capsys)
    phone = save(page, "dashboard-phone.png", PHONE, capsys)
    assert page.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    assert desktop.stat().st_size > 10_000 and phone.stat().st_size > 10_000
