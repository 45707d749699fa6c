"""An unauthenticated call to the pipeline API is refused. API Gateway enforces IAM in a deployed stage,
which chalice local and chalice's test client cannot: so the template `chalice package` generates is
checked for AWS_IAM (SigV4) on every /pipelines method and none on the /webhooks/* methods (they verify
the provider's signature), and the handler itself refuses a call that reached it without an IAM identity.
Only the local stage may turn auth off, and a deployed function refuses to start with it off."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from chalicelib.errors import SettingsError
from tests.api_rig import gateway_event, invoke_gateway, make_api_rig, post
from tests.lambda_app import chalice_client, import_app, offline_pip_env
from tests.test_chalice_deploy import CHALICE, project  # noqa: F401 - the copied project fixture

IAM = "awsSigv4"  # API Gateway's swagger name for AWS_IAM authorization


def package(project: Path, stage: str, out: Path) -> dict:  # noqa: F811
    env = offline_pip_env({k: v for k, v in os.environ.items() if not k.startswith("PUSHDEPLOY")})
    # packaging calls no AWS API (and could not: offline_pip_env sends HTTP nowhere), but botocore wants a region
    # and credentials to exist
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="packaging-only", AWS_SECRET_ACCESS_KEY="unused")
    done = subprocess.run([str(CHALICE), "package", "--stage", stage, str(out)], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"chalice package --stage {stage} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads((out / "sam.json").read_text())


def method_auth(template: dict) -> dict[str, str | None]:
    """'METHOD /path' -> the API Gateway auth type of every method of the generated REST API."""
    swagger = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    schemes = swagger.get("securityDefinitions", {})
    found = {}
    for path, methods in swagger["paths"].items():
        for method, spec in methods.items():
            names = [name for requirement in spec.get("security", []) for name in requirement]
            kinds = {schemes[name].get("x-amazon-apigateway-authtype") for name in names}
            found[f"{method.upper()} {path}"] = kinds.pop() if len(kinds) == 1 else (None if not kinds else "mixed")
    return found


def test_the_prod_template_signs_every_pipelines_method_and_no_webhook(project, tmp_path):  # noqa: F811
    auth = method_auth(package(project, "prod", tmp_path / "out"))

    pipelines = {key: kind for key, kind in auth.items() if key.split(" ", 1)[1].startswith("/pipelines")}
    assert set(pipelines) == {"GET /pipelines", "POST /pipelines/{pipeline}/builds",
                              "POST /pipelines/{pipeline}/rollback"}
    assert set(pipelines.values()) == {IAM}
    assert {key: kind for key, kind in auth.items() if " /webhooks/" in key and kind is not None} == {}
    # the rest: the webhooks, and the dashboard's page and read routes (bearer token: tests/test_dashboard_auth.py)
    dashboard = {"GET /dashboard", "GET /builds", "GET /builds/{build_id}", "GET /status"}
    assert set(auth) - set(pipelines) - dashboard <= {key for key in auth if " /webhooks/" in key}


def test_a_call_without_an_iam_identity_is_refused_where_iam_is_not_enforced(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    module = import_app(monkeypatch, rig.env(auth="iam"))
    event = gateway_event("POST", "/pipelines/{pipeline}/rollback", "/pipelines/sample%2Fproduction/rollback",
                          "sample%2Fproduction", None, None)

    with chalice_client(module, tmp_path) as client:
        local = post(client, "/pipelines/sample%2Fproduction/builds", {"force": True})
    unsigned = invoke_gateway(module, event)

    for status, body in (local, unsigned):
        assert status == 403 and "SigV4" in body["error"]
    assert rig.requests() == []


def test_auth_off_is_refused_inside_lambda(aws, monkeypatch):
    rig = make_api_rig(aws)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pushdeploy-prod-api_handler")
    with pytest.raises(SettingsError, match="PUSHDEPLOY_API_AUTH: 'none' is only for chalice local"):
        import_app(monkeypatch, rig.env(auth="none"))


def test_an_unknown_auth_setting_stops_the_import(aws, monkeypatch):
    rig = make_api_rig(aws)
    with pytest.raises(SettingsError, match="invalid PUSHDEPLOY_API_AUTH: 'cognito'"):
        import_app(monkeypatch, rig.env(auth="cognito"))
