"""The cross-account git pull role (infra/source.yaml GitPullRole), decided by the evaluator from both templates as
deployed: the builder's role session may assume it (its own policy names the role, and the role's trust names the
builder role), no other role may, and the role may pull only the named repositories. On the rig no part signs as
this role: CodeCommit's git endpoint is not modelled by moto, so git-remote-codecommit's AssumeRole and GitPull
never happen there (localrig/ledger/reasons.py); these checks are what proves the hop instead."""

from __future__ import annotations

from typing import Any

from localrig.iam.iam_eval import Request, evaluate
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import SOURCE_ACCOUNT


def document(deployed: Deployed, logical_id: str, label: str) -> dict[str, Any]:
    [found] = [p.document for p in deployed.policies if p.logical_id == logical_id and label in p.label]
    return found


def builder_session(deployed: Deployed, role_name: str = "") -> str:
    """Credentials the instance profile gives a builder: a session of its role named after the instance."""
    pipeline = deployed.stacks["pipeline.yaml"]
    role = role_name or deployed.pipeline.outputs["BuilderRoleArn"].rsplit("/", 1)[1]
    return f"arn:aws:sts::{pipeline.pseudo['AWS::AccountId']}:assumed-role/{role}/i-0123456789abcdef0"


def git_pull_role_arn(deployed: Deployed) -> str:
    """The role in the source account, as the builder's policy names it."""
    name = deployed.stacks["pipeline.yaml"].parameters["GitPullRoleName"]
    return f"arn:aws:iam::{SOURCE_ACCOUNT}:role/{name}"


def test_the_builder_may_assume_the_git_pull_role(deployed: Deployed) -> None:
    builder = document(deployed, "BuilderRole", "pushdeploy-builder")
    trust = document(deployed, "GitPullRole", "AssumeRolePolicyDocument")
    decision = evaluate([builder], trust, Request(builder_session(deployed), "sts:AssumeRole",
                                                  git_pull_role_arn(deployed)))
    assert decision.allowed, decision.reason
    assert "cross-account" in decision.reason


def test_another_role_of_the_pipeline_account_may_not(deployed: Deployed) -> None:
    """Even with the builder's own policy, a role the trust does not name is refused by the source account."""
    builder = document(deployed, "BuilderRole", "pushdeploy-builder")
    trust = document(deployed, "GitPullRole", "AssumeRolePolicyDocument")
    decision = evaluate([builder], trust, Request(builder_session(deployed, "someone-else"), "sts:AssumeRole",
                                                  git_pull_role_arn(deployed)))
    assert not decision.allowed


def test_the_git_pull_role_pulls_only_the_named_repositories(deployed: Deployed) -> None:
    source = deployed.stacks["source.yaml"]
    account, region = source.pseudo["AWS::AccountId"], source.pseudo["AWS::Region"]
    policy = document(deployed, "GitPullRole", "pushdeploy-gitpull")
    session = f"arn:aws:sts::{account}:assumed-role/{source.physical_ids['GitPullRole']}/builder"
    for repository in source.parameters["Repositories"].split(","):
        arn = f"arn:aws:codecommit:{region}:{account}:{repository}"
        assert evaluate([policy], None, Request(session, "codecommit:GitPull", arn)).allowed, repository
    other = f"arn:aws:codecommit:{region}:{account}:not-named"
    assert not evaluate([policy], None, Request(session, "codecommit:GitPull", other)).allowed
    named = f"arn:aws:codecommit:{region}:{account}:sample"
    assert not evaluate([policy], None, Request(session, "codecommit:GitPush", named)).allowed
