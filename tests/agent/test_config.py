"""The settings file: the brief's example loads as written; every mistake names the file and the key."""

from __future__ import annotations

import textwrap

import pytest

from agent.config import ConfigError, load_config

EXAMPLE = textwrap.dedent('''
    [agent]
    region = "ap-northeast-1"
    queue_url = "https://sqs.ap-northeast-1.amazonaws.com/111122223333/pushdeploy-build"
    close_topic_arn = "arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-close"
    log_group = "/pushdeploy/builds"
    cache_dir = "/var/lib/pushdeploy"       # git clones per pipeline
    idle_grace_seconds = 60                 # queue empty this long -> send EndOfRun
    instance_id = ""                        # "" = read from EC2 instance metadata (IMDSv2)

    [[pipelines]]
    repository = "sample"
    branch = "production"
    source_url = "codecommit::ap-northeast-1://sample"   # or any git URL or a local path
    context = "."
    dockerfile = "Dockerfile"
    target = ""
    build_args = { environment = "production" }
    image_repository = "production/sample"
    registry = ""                           # "" = the account's ECR registry; "host:port" overrides
    wait_timeout_seconds = 900
    keep_revisions = 10

    [[pipelines.deploy]]
    cluster = "production-cluster"
    services = ["web"]
    containers = []                         # [] = containers whose image is from image_repository
''')

SECOND = textwrap.dedent('''
    [[pipelines]]
    repository = "sample"
    branch = "staging"
    source_url = "/srv/git/sample.git"
    image_repository = "staging/sample"

    [[pipelines.deploy]]
    cluster = "staging"
    services = ["web", "worker"]
    containers = ["app"]
''')


def write(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def error_of(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).replace(str(path), "agent.toml")


def test_the_documented_example_loads_with_every_value(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE + SECOND))

    assert config.agent.region == "ap-northeast-1"
    assert config.agent.idle_grace_seconds == 60 and config.agent.instance_id == ""
    assert config.agent.visibility_timeout_seconds == 300
    production, staging = config.pipelines
    assert production.id == "sample/production"
    assert production.build_args == (("environment", "production"),)
    assert production.deploy[0].services == ("web",) and production.deploy[0].containers == ()
    assert (staging.context, staging.dockerfile, staging.target, staging.registry) == (".", "Dockerfile", "", "")
    assert (staging.wait_timeout_seconds, staging.keep_revisions) == (900, 10)
    assert staging.deploy[0].services == ("web", "worker") and staging.deploy[0].containers == ("app",)
    assert config.pipeline("sample/staging") is staging


@pytest.mark.parametrize(("change", "expected"), [
    (('cluster = "production-cluster"', ""), "agent.toml: pipelines[0].deploy[0].cluster: required"),
    (("services = [\"web\"]", "services = []"), "agent.toml: pipelines[0].deploy[0].services: needs at least one"),
    (("services = [\"web\"]", "services = \"web\""), "pipelines[0].deploy[0].services: expected a list of strings"),
    (("wait_timeout_seconds = 900", "wait_timeout_seconds = \"15m\""),
     "agent.toml: pipelines[0].wait_timeout_seconds: expected an integer, got a string"),
    (("keep_revisions = 10", "keep_revisions = -1"), "pipelines[0].keep_revisions: must be >= 0, got -1"),
    (('build_args = { environment = "production" }', "build_args = { environment = 1 }"),
     "pipelines[0].build_args.environment: expected a string, got an integer"),
    (('context = "."', 'context = "../secrets"'), "pipelines[0].context: must be a path inside the repository"),
    (('target = ""', 'taget = ""'), "agent.toml: pipelines[0].taget: unknown key"),
    (('region = "ap-northeast-1"', ""), "agent.toml: agent.region: required"),
    (('queue_url = "https', 'queue_url = "" # "https'), "agent.toml: agent.queue_url: must not be empty"),
    (("idle_grace_seconds = 60", "idle_grace_seconds = -1"), "agent.idle_grace_seconds: must be >= 0"),
])
def test_a_mistake_names_the_file_and_the_key(tmp_path, change, expected):
    old, new = change
    assert old in EXAMPLE
    assert expected in error_of(tmp_path, EXAMPLE.replace(old, new, 1))


def test_the_error_names_the_second_pipeline_by_index(tmp_path):
    message = error_of(tmp_path, EXAMPLE + SECOND.replace('cluster = "staging"', ""))
    assert message == "agent.toml: pipelines[1].deploy[0].cluster: required"


def test_two_pipelines_for_the_same_branch_are_refused(tmp_path):
    message = error_of(tmp_path, EXAMPLE + SECOND.replace('"staging"\n', '"production"\n', 1))
    assert "pipelines[1]: duplicate pipeline 'sample/production' (also pipelines[0])" in message


def test_missing_sections_and_files_and_bad_toml_are_named(tmp_path):
    assert error_of(tmp_path, EXAMPLE.split("[[pipelines]]")[0]).startswith(
        "agent.toml: pipelines: required: at least one [[pipelines]] table")
    assert error_of(tmp_path, "[[pipelines]]\n") == "agent.toml: agent: required table"
    assert error_of(tmp_path, EXAMPLE + "\n[agent\n").startswith("agent.toml: not valid TOML")
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def test_asking_for_an_unconfigured_pipeline_lists_the_configured_ones(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    with pytest.raises(ConfigError, match=r"no pipeline 'sample/main' \(configured: sample/production\)"):
        config.pipeline("sample/main")


def test_keep_revisions_zero_keeps_every_revision_as_docs_deploy_md_says(tmp_path):
    """docs/deploy.md: `keep_revisions = 0` keeps every revision; the parser must accept what the doc shows."""
    config = load_config(write(tmp_path, EXAMPLE.replace("keep_revisions = 10", "keep_revisions = 0")))
    assert config.pipelines[0].keep_revisions == 0
