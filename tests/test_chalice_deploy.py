"""`chalice deploy --stage dev` and `--stage prod`, run as a user runs them, against moto server.

The project is copied to a temporary directory first, so the deploy's state (.chalice/deployed)
never touches the repository, and the copy's config points at resources made in moto.
Chalice packages requirements.txt with pip; here pip may read only the local wheelhouse that
scripts/setup.sh fills (no index), and every HTTP(S) connection that is not to this machine goes
to a closed port, so the test cannot reach the internet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.arns import parse_arn
from chalicelib.request.push_events import STATE_CHANGE_PATTERN
from tests.lambda_app import WHEELHOUSE, make_pipeline_rig, offline_pip_env

ROOT = Path(__file__).parent.parent
CHALICE = Path(sys.executable).parent / "chalice"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    target.mkdir()
    shutil.copy(ROOT / "app.py", target)
    shutil.copy(ROOT / "requirements.txt", target)
    shutil.copytree(ROOT / "chalicelib", target / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (target / ".chalice").mkdir()
    for path in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(path, target / ".chalice")
    return target


def deploy(project: Path, stage: str, moto_server) -> None:
    env = offline_pip_env({k: v for k, v in os.environ.items() if not k.startswith("PUSHDEPLOY")})
    env.update(moto_server.client_env())
    done = subprocess.run([str(CHALICE), "deploy", "--stage", stage], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (f"chalice deploy --stage {stage} failed (if it names a missing package, "
                                  f"run scripts/setup.sh to refill {WHEELHOUSE}):\n{done.stdout}\n{done.stderr}")


def rest_api_auth(apigateway) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> authorizationType of every method of the one REST API the deploy made."""
    [api] = apigateway.get_rest_apis()["items"]
    found = {}
    for resource in apigateway.get_resources(restApiId=api["id"])["items"]:
        for method in resource.get("resourceMethods", {}):
            kind = apigateway.get_method(restApiId=api["id"], resourceId=resource["id"],
                                         httpMethod=method)["authorizationType"]
            found[(method, resource["path"])] = kind
    return found


def test_dev_and_prod_stages_deploy_their_own_functions(aws, moto_server, project):
    repo_state_before = sorted(os.listdir(ROOT / ".chalice"))
    rig = make_pipeline_rig(aws)
    rig.put_webhook_url("https://hooks.slack.example/services/T/B/x")
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"]["dev"]["environment_variables"]["REQUEST_TOPIC_ARN"] = rig.request_topic_arn
    config["stages"]["prod"]["environment_variables"].update(rig.env(
        BUILDER_INSTANCE_IDS=rig.instance_id, WAKE_QUEUE_ARN=rig.wake_queue_arn))
    config_path.write_text(json.dumps(config))

    deploy(project, "dev", moto_server)
    deploy(project, "prod", moto_server)

    lam = aws.client("lambda")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert set(functions) == {"pushdeploy-dev-request", "pushdeploy-dev-request_events",
                              "pushdeploy-prod-build_start", "pushdeploy-prod-close", "pushdeploy-prod-notify",
                              "pushdeploy-prod-history", "pushdeploy-prod-reconcile",
                              "pushdeploy-prod-dashboard_auth",  # the read routes' authorizer: a function of its own
                              "pushdeploy-prod"}  # the last: chalice's api_handler
    for name, function in functions.items():
        stage = name.split("-")[1]
        assert function["Environment"]["Variables"] == config["stages"][stage]["environment_variables"]

    def subscribers(topic_arn: str) -> set[str]:
        subs = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        return {parse_arn(s["Endpoint"], "lambda").resource_name for s in subs if s["Protocol"] == "lambda"}

    assert subscribers(rig.request_topic_arn) == set()  # build_start reads the wake queue (issue 11)
    [wake] = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]  # moto's FunctionName filter: ARN only
              if m["FunctionArn"] == functions["pushdeploy-prod-build_start"]["FunctionArn"]]
    assert (wake["EventSourceArn"], wake["BatchSize"]) == (rig.wake_queue_arn, 10)
    assert subscribers(rig.close_topic_arn) == {"pushdeploy-prod-close", "pushdeploy-prod-notify",
                                                "pushdeploy-prod-history"}

    events = aws.client("events")
    [rule] = [r for r in events.list_rules()["Rules"] if "request_events" in r["Name"]]
    assert json.loads(rule["EventPattern"]) == STATE_CHANGE_PATTERN
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == functions["pushdeploy-dev-request_events"]["FunctionArn"]
    [schedule] = [r for r in events.list_rules()["Rules"] if "reconcile" in r["Name"]]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    [target] = events.list_targets_by_rule(Rule=schedule["Name"])["Targets"]
    assert target["Arn"] == functions["pushdeploy-prod-reconcile"]["FunctionArn"]

    assert rest_api_auth(aws.client("apigateway")) == {
        ("GET", "/pipelines"): "AWS_IAM", ("POST", "/pipelines/{pipeline}/builds"): "AWS_IAM",
        ("POST", "/pipelines/{pipeline}/rollback"): "AWS_IAM", ("POST", "/webhooks/github"): "NONE",
        ("POST", "/webhooks/gitlab"): "NONE", ("POST", "/webhooks/bitbucket"): "NONE",
        ("GET", "/builds"): "CUSTOM", ("GET", "/builds/{build_id}"): "CUSTOM", ("GET", "/status"): "CUSTOM",
        ("GET", "/dashboard"): "NONE"}

    roles = {parse_arn(functions[n]["Role"], "iam").resource_name: n for n in functions}
    iam = aws.client("iam")
    for role, name in roles.items():
        [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        stage, function = (name.split("-", 2)[1:] + ["api_handler"])[:2]  # pushdeploy-prod: the REST API's
        expected = json.loads((project / ".chalice" / f"policy-{stage}-{function}.json").read_text())
        assert document == expected
        [logs] = [s for s in document["Statement"] if s["Sid"] == "WriteOwnLogs"]
        assert logs["Resource"][0].endswith(f":log-group:/aws/lambda/{name}"), "a function writes its own log group"
    assert sorted(os.listdir(ROOT / ".chalice")) == repo_state_before
    assert sorted(p.name for p in (project / ".chalice" / "deployed").iterdir()) == ["dev.json", "prod.json"]
    packages = list((project / ".chalice" / "deployments").glob("*.zip"))
    assert packages, "chalice built no deployment package"
    for package in packages:  # requests and its dependencies came from the wheelhouse
        names = set(zipfile.ZipFile(package).namelist())
        assert {"app.py", "chalicelib/builders/reconcile.py", "requests/__init__.py", "urllib3/__init__.py"} <= names
