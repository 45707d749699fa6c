"""GET /pipelines lists what the builder can serve: the agent settings parameter `infra record` uploads,
names and deploy targets only (a source URL or build argument may hold a secret), and says which
parameter is at fault when it cannot be read."""

from __future__ import annotations

import json

from tests.api_rig import PARAMETER, SECRETS, make_api_rig
from tests.lambda_app import chalice_client, import_app


def get(monkeypatch, tmp_path, env):
    with chalice_client(import_app(monkeypatch, env), tmp_path) as client:
        response = client.http.get("/pipelines")
    return response.status_code, response.body.decode()


def test_lists_every_configured_pipeline_without_secrets(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)

    status, text = get(monkeypatch, tmp_path, rig.env())

    assert status == 200
    assert json.loads(text) == {"pipelines": [
        {"id": "sample/production", "repository": "sample", "branch": "production",
         "image_repository": "production/sample",
         "deploy": [{"cluster": "production-cluster", "services": ["web", "worker"], "containers": []}]},
        {"id": "octo/app/release/1.0", "repository": "octo/app", "branch": "release/1.0",
         "image_repository": "octo/app", "deploy": []},
    ]}
    assert [secret for secret in SECRETS if secret in text] == []


def test_a_missing_parameter_is_503_naming_it(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    aws.client("ssm").delete_parameter(Name=PARAMETER)

    status, text = get(monkeypatch, tmp_path, rig.env())

    assert status == 503
    assert PARAMETER in json.loads(text)["error"] and "infra record" in json.loads(text)["error"]


def test_a_parameter_that_is_not_toml_is_500_naming_it(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    rig.put_settings("[[pipelines]\nrepository = ")

    status, text = get(monkeypatch, tmp_path, rig.env())

    assert status == 500
    assert json.loads(text)["error"].startswith(f"agent settings parameter {PARAMETER}: not valid TOML")


def test_a_pipeline_without_its_names_is_500_naming_the_key(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    rig.put_settings('[[pipelines]]\nrepository = "sample"\nimage_repository = "x"\n')

    status, text = get(monkeypatch, tmp_path, rig.env())

    assert (status, json.loads(text)) == (500, {"error": f"agent settings parameter {PARAMETER}: "
                                                         "pipelines[0].branch: required string"})


def test_a_stage_without_the_parameter_setting_is_500_naming_the_setting(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    env = rig.env()
    del env["AGENT_SETTINGS_PARAMETER"]

    status, text = get(monkeypatch, tmp_path, env)

    assert status == 500
    assert "missing AGENT_SETTINGS_PARAMETER" in json.loads(text)["error"]
