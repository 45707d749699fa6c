"""`python -m infra up`'s resume line and step names, without AWS: what a person types after a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import InfraError
from infra.up import UpOptions, plan, resume_command, run


def _options(**kw: object) -> UpOptions:
    return UpOptions(project=Path("/nowhere"), agent_settings=Path("agent-settings.toml"), pipeline_parameters={},
                     source_parameters={}, **kw)  # type: ignore[arg-type]


def test_resume_replaces_a_given_from() -> None:
    resume = resume_command(["up", "--profile", "p", "--from", "pipeline-stack", "--one-account"])
    assert resume("chalice-all") == "python -m infra up --profile p --one-account --from chalice-all"


def test_an_unknown_from_lists_the_steps() -> None:
    with pytest.raises(InfraError, match="--from nope: no such step; the steps are: all-stage, pipeline-stack"):
        run(plan(_options(one_account=True)), "nope", resume_command(["up"]))


def test_from_skips_the_steps_before_it(capsys: pytest.CaptureFixture[str]) -> None:
    run(plan(_options()), "source-stack", resume_command(["up"]), dry_run=True)
    printed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == ["step 5/8 source-stack", "step 6/8 record-source", "step 7/8 chalice-dev",
                       "step 8/8 failure-destinations-dev"]
