"""What `python -m localrig up` exports is all `chalice local --stage local` needs: sourced by a real shell,
together with the local stage's own variables, every setting the app reads loads."""

import json
import subprocess

import pytest

from chalicelib import settings
from localrig.lambdas import local_stage
from localrig.provision import PipelineSpec, lambda_environment, provision_with

SPEC = PipelineSpec(repository="sample")
AWS_ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5999", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1"}


@pytest.fixture
def outputs(aws):
    return provision_with("api")(aws.client, [SPEC], "http://127.0.0.1:1/hook",
                                 {SPEC.key: "127.0.0.1:5000/production/sample:v0"})


def sourced(text: str, tmp_path, shell_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a real bash has after sourcing ``text``."""
    env_file = tmp_path / "local.env"
    env_file.write_text(text)
    done = subprocess.run(["bash", "-c", '. "$1" && env -0', "bash", str(env_file)], capture_output=True,
                          check=True, env={"PATH": "/usr/bin:/bin", **(shell_env or {})}, timeout=30)
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)


def test_the_local_stage_names_only_the_function_set_and_the_auth_mode():
    assert local_stage.stage_variables("local") == {"PUSHDEPLOY_FUNCTIONS": "all", "PUSHDEPLOY_API_AUTH": "none"}


def test_with_the_sourced_exports_every_setting_of_both_function_sets_loads(outputs, tmp_path):
    exports = local_stage.local_exports(AWS_ENV, outputs, [SPEC], tmp_path)
    env = sourced(local_stage.env_file_text(exports), tmp_path) | local_stage.stage_variables("local")

    assert settings.function_set(env) == settings.FunctionSet(source=True, pipeline=True)
    assert settings.load_source(env).branch_filter.matches("sample", "production")
    assert settings.load_pipeline(env).build_queue_url == outputs["BUILD_QUEUE_URL"]
    assert json.loads(env["BRANCH_FILTER"]) == {"sample": ["production"]}, "JSON survives the shell's quoting"


def test_every_rig_stage_setting_is_exported_except_those_the_local_stage_sets(outputs, tmp_path):
    exports = local_stage.local_exports(AWS_ENV, outputs, [SPEC], tmp_path)
    expected = set(lambda_environment(outputs, [SPEC])) - set(local_stage.stage_variables("local"))
    assert expected <= set(exports)
    assert not set(local_stage.stage_variables("local")) & set(exports)
    assert {"WEBHOOK_SECRET_PREFIX", "WEBHOOK_DELIVERIES_TABLE", "AGENT_SETTINGS_PARAMETER"} <= set(exports)
    assert {name: exports[name] for name in AWS_ENV} == AWS_ENV


def test_a_profile_in_the_shell_does_not_override_the_rig_s_credentials(outputs, tmp_path):
    exports = local_stage.local_exports(AWS_ENV, outputs, [SPEC], tmp_path)
    env = sourced(local_stage.env_file_text(exports), tmp_path, {"AWS_PROFILE": "production-admin"})
    assert "AWS_PROFILE" not in env
    assert "AWS_PROFILE" not in local_stage.child_environment({"AWS_PROFILE": "production-admin"}, exports)
