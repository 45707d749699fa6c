"""The token never shows: not in the argv or environment of any git or ssh process, the agent's console
and log records, the BuildResult, the CloudWatch build log, the Slack message, nor in a file left behind;
for a build that succeeds and for one whose token the server refuses."""

from __future__ import annotations

import json

import pytest

from agent.builder import build_pipeline
from chalicelib.notify.slack_message import build_message
from tests.agent.agentrig import BRANCH, agent_context, log_lines
from tests.git.gitrig import SECRET_NAMES, auth_temp_dirs, hosted_pipeline, leaks

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("accepted", [True, False], ids=["succeeded", "refused"])
def test_the_token_appears_nowhere(accepted, aws, docker_engine, registry, hosted, recorder, scratch, tmp_path,
                                   monkeypatch, capsys, caplog):
    config = hosted_pipeline(aws, docker_engine, registry.address, hosted, "ssm", tmp_path, monkeypatch)
    secret = hosted.token
    if not accepted:
        secret = "ghs_" + "R" * 36  # a token the server refuses is a secret all the same
        aws.client("ssm").put_parameter(Name=SECRET_NAMES["ssm"], Value=secret, Type="SecureString", Overwrite=True)
    lines: list[str] = []
    ctx = agent_context(config, lines)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == ("succeeded" if accepted else "failed"), result.error
    assert [argv for argv in recorder.argvs("git") if " fetch " in f" {argv} "], "no git fetch was recorded"
    console = capsys.readouterr()
    assert leaks(
        secret,
        git_and_ssh_argv_and_env=recorder.text(),
        progress_lines="\n".join(lines),
        stdout=console.out, stderr=console.err, log_records=caplog.text,
        build_result=result.to_json(),
        cloudwatch_build_log="\n".join(log_lines(aws, result.log.group, result.log.stream)),
        slack_message=json.dumps(build_message(result, "us-east-1")),
    ) == []
    assert f"{scratch}/pushdeploy-git-auth-" in recorder.text(), "the credential file was not where we look"
    assert auth_temp_dirs(scratch) == []
