"""In a deployed stage the read routes the dashboard calls (GET /builds, /builds/{id}, /status) need
``Authorization: Bearer <token>``, checked by the Chalice authorizer ``dashboard_auth`` against the SSM
SecureString DASHBOARD_TOKEN_PARAMETER; the page itself (GET /dashboard) holds no data and is open. Proof:
a real `chalice local` enforces built-in authorizers, so one runs a stage whose auth is on (a test-only
stage in a copy of the project) against moto; the template `chalice package` makes is checked for the
authorizer on exactly those routes, and its deployment package for the page file and its size."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import zipfile
from fnmatch import fnmatch

import pytest

from chalicelib.dashboard import AUTH_TTL_SECONDS
from chalicelib.dashboard.auth import READ_ROUTES
from localrig import agent_config
from localrig.lambdas import chalice_local, local_stage
from localrig.provision import PipelineSpec, provision
from tests import chromium
from tests.lambda_app import import_app
from tests.test_api_auth import package
from tests.test_chalice_deploy import project  # noqa: F401 - the copied project fixture

TOKEN_PARAMETER = "/pushdeploy/dashboard-token"
TOKEN = "0f8e7d6c5b4a-dashboard"
SAMPLE = PipelineSpec(repository="sample")
BEARER_STAGE = "bearer"  # written only into the copied project's config
READ_METHODS = {"GET /builds", "GET /builds/{build_id}", "GET /status"}
PACKAGE_BUDGET = 1_000_000


def get(url: str, token: str | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, with a bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


@pytest.fixture
def bearer_server(aws, moto_server, project, tmp_path):  # noqa: F811
    """`chalice local --stage bearer` (the prod auth: PUSHDEPLOY_API_AUTH unset) against a provisioned moto."""
    outputs = provision(aws.client, [SAMPLE], "https://hooks.slack.invalid/T/B/x",
                        {SAMPLE.key: "127.0.0.1:5000/sample:initial"})
    aws.client("ssm").put_parameter(Name=TOKEN_PARAMETER, Value=TOKEN, Type="SecureString")
    exports = local_stage.local_exports(moto_server.client_env(), outputs, [SAMPLE], tmp_path)
    settings_file = agent_config.render(outputs, [SAMPLE], {SAMPLE.repository: tmp_path / "sample.git"},
                                        "127.0.0.1:5000", tmp_path / "cache")
    local_stage.upload_agent_settings(aws.client("ssm"), settings_file, exports["AGENT_SETTINGS_PARAMETER"])
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"][BEARER_STAGE] = {"environment_variables": {
        "PUSHDEPLOY_FUNCTIONS": "all", "DASHBOARD_TOKEN_PARAMETER": TOKEN_PARAMETER}}
    config_path.write_text(json.dumps(config))
    env = {"PATH": os.environ["PATH"], **exports}
    server = chalice_local.start(env, tmp_path / "chalice-local.log", stage=BEARER_STAGE, project_dir=project)
    try:
        yield server
    finally:
        server.stop()


def test_a_read_route_answers_only_with_the_current_token_while_the_page_is_open(bearer_server):
    url = bearer_server.url
    assert get(f"{url}/builds")[0] == 401  # no Authorization header: refused before the authorizer runs
    assert get(f"{url}/builds", token="not-the-token")[0] == 403
    assert get(f"{url}/status", token=TOKEN[:-1])[0] == 403
    status, _, body = get(f"{url}/builds", token=TOKEN)
    assert (status, json.loads(body)) == (200, {"builds": [], "next": None})
    assert get(f"{url}/builds/no-such-build", token=TOKEN)[0] == 404  # the route itself answered
    status, content_type, body = get(f"{url}/dashboard")
    assert status == 200 and content_type.startswith("text/html") and "<title>pushdeploy dashboard" in body
    assert get(f"{url}/status", token=TOKEN)[0] == 200
    assert TOKEN not in bearer_server.log_text()


def test_the_page_asks_for_the_token_once_and_sends_it(bearer_server, tmp_path):
    """In Chromium: the first load is refused, so the page asks; a wrong token is refused and asked for again;
    the right one is kept for the tab (sessionStorage) and every read route answers with it."""
    chromium.chromium_present()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium.start(tmp_path / "profile")
    try:
        driver.get(f"{bearer_server.url}/dashboard")
        form, field = driver.find_element(By.ID, "token-form"), driver.find_element(By.ID, "token")
        WebDriverWait(driver, 15).until(lambda d: form.is_displayed())
        assert driver.switch_to.active_element == field  # the keyboard lands in the question
        field.send_keys("not-the-token\n")
        WebDriverWait(driver, 15).until(lambda d: "was refused" in d.find_element(By.ID, "token-why").text)
        field.send_keys(TOKEN + "\n")
        WebDriverWait(driver, 15).until(lambda d: "No builds recorded yet" in d.find_element(By.ID, "builds").text
                                        and d.find_elements(By.CSS_SELECTOR, "#pipelines [data-service]"))
        assert not form.is_displayed() and driver.find_element(By.ID, "error").text == ""
        assert driver.execute_script("return sessionStorage.getItem('pushdeploy.dashboardToken')") == TOKEN
    finally:
        driver.quit()


def test_the_authorizer_s_policy_names_every_route_it_guards(monkeypatch):
    """API Gateway caches one answer per token for all the routes of an authorizer: a route missing from the
    allowed list would be refused at random, depending on which route the cached answer was made for."""
    env = {"PUSHDEPLOY_FUNCTIONS": "pipeline", "REQUEST_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:request",
           "CLOSE_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:close"}
    module = import_app(monkeypatch, env)
    guarded = {path for path, methods in module.app.routes.items() for entry in methods.values()
               if entry.authorizer is not None and entry.authorizer.name == "dashboard_auth"}
    assert guarded == {"/builds", "/builds/{build_id}", "/status"}
    concrete = {path.replace("{build_id}", "3f0c9e1a") for path in guarded}
    assert all(any(fnmatch(path, allowed) for allowed in READ_ROUTES) for path in concrete)
    assert all(any(fnmatch(path, allowed) for path in concrete) for allowed in READ_ROUTES)


def test_the_local_stage_reads_without_a_token(monkeypatch):
    env = {"PUSHDEPLOY_FUNCTIONS": "all", "PUSHDEPLOY_API_AUTH": "none",
           "REQUEST_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:request",
           "CLOSE_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:close"}
    module = import_app(monkeypatch, env)
    assert module.READ_AUTHORIZER is None and "dashboard_auth" not in module.app.handler_map


def test_the_prod_package_ships_the_page_and_puts_the_token_authorizer_on_the_read_routes_only(project, tmp_path):  # noqa: F811
    template = package(project, "prod", tmp_path / "out")
    swagger = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    security = {f"{method.upper()} {path}": [name for req in spec.get("security", []) for name in req]
                for path, methods in swagger["paths"].items() for method, spec in methods.items()}
    assert {key for key, names in security.items() if names == ["dashboard_auth"]} == READ_METHODS
    assert security["GET /dashboard"] == []
    scheme = swagger["securityDefinitions"]["dashboard_auth"]
    assert scheme["name"] == "Authorization" and scheme["x-amazon-apigateway-authtype"] == "custom"
    assert scheme["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == AUTH_TTL_SECONDS
    archive = tmp_path / "out" / "deployment.zip"
    with zipfile.ZipFile(archive) as zipped:
        assert "chalicelib/dashboard/page.html" in zipped.namelist()
    assert archive.stat().st_size <= PACKAGE_BUDGET, f"{archive.stat().st_size} bytes"


def test_a_wrong_token_parameter_setting_is_named():
    from chalicelib import settings
    from chalicelib.errors import SettingsError

    with pytest.raises(SettingsError, match="missing DASHBOARD_TOKEN_PARAMETER"):
        settings.dashboard_token_parameter({})
    with pytest.raises(SettingsError, match="invalid DASHBOARD_TOKEN_PARAMETER: expected an SSM parameter name"):
        settings.dashboard_token_parameter({"DASHBOARD_TOKEN_PARAMETER": "dashboard token"})
    assert settings.dashboard_token_parameter({"DASHBOARD_TOKEN_PARAMETER": TOKEN_PARAMETER}) == TOKEN_PARAMETER

