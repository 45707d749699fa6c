"""GET /dashboard serves one self-contained page: nothing loaded from elsewhere (it must work offline on the
rig), a viewport for phones, API strings never written as HTML, and a Content-Security-Policy whose hashes
are exactly those of the page's inline style and script (a stale hash would stop the page from running; the
browser test shows it runs). Static checks of the file: cheap guards for what the browser test cannot
prove for every future edit."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from chalicelib.dashboard.page import PAGE_FILE, load_page
from tests.lambda_app import chalice_client, import_app

ENV = {"PUSHDEPLOY_FUNCTIONS": "all", "PUSHDEPLOY_API_AUTH": "none",
       "REQUEST_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:request",
       "CLOSE_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:close"}
HTML = PAGE_FILE.read_text(encoding="utf-8")
SCRIPT = re.search(r"<script>(.*?)</script>", HTML, re.S).group(1)


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_route_serves_the_page_with_a_policy_naming_its_own_style_and_script(monkeypatch, tmp_path):
    module = import_app(monkeypatch, ENV)
    with chalice_client(module, tmp_path) as client:
        answer = client.http.get("/dashboard")
    assert answer.status_code == 200 and answer.body.decode() == HTML
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in answer.headers["Content-Security-Policy"].split(";"))
    style = re.search(r"<style>(.*?)</style>", HTML, re.S).group(1)
    assert policy["script-src"] == sha256(SCRIPT) and policy["style-src"] == sha256(style)
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_it_loads_nothing_from_elsewhere_and_has_a_phone_viewport():
    assert re.findall(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", HTML) == []
    assert re.findall(r"@import|url\(", HTML) == []
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in HTML
    assert HTML.count("<script") == 1 and HTML.count("<style") == 1


@pytest.mark.parametrize("sink", ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                                  "new Function", "onclick", "onmouse"])
def test_no_string_reaches_the_page_as_html_or_code(sink):
    assert sink not in SCRIPT and sink not in HTML.replace(SCRIPT, "")


def test_a_page_without_its_inline_script_is_refused_at_load(tmp_path):
    """The page is one file by design; a split-out script would be blocked by the policy anyway."""
    page = tmp_path / "page.html"
    page.write_text("<html><head><style>p{}</style></head><body><script src=app.js></script></body></html>")
    with pytest.raises(ValueError, match="no inline <script>"):
        load_page(page)
