"""The builder may read hosted-git credentials only under the GitSecretPrefix names (SSM parameters and
Secrets Manager secrets), and none at all when the prefix is empty."""

from __future__ import annotations

import boto3

from tests.infra.infra_stacks import deploy_pipeline, resources, role_policy, statement

ACCOUNT = "123456789012"  # moto's account


def test_the_builder_reads_git_credentials_only_under_the_prefix(aws: boto3.Session) -> None:
    deploy_pipeline(aws, "gitcreds", GitSecretPrefix="teams/web/git/")
    policy = role_policy(aws.client("iam"), "gitcreds-builder", "pushdeploy-builder")

    ssm = statement(policy, "ReadHostedGitCredentialsFromSsm")
    assert ssm["Action"] == "ssm:GetParameter"
    assert resources(ssm) == [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/teams/web/git/*"]
    secrets = statement(policy, "ReadHostedGitCredentialsFromSecretsManager")
    assert secrets["Action"] == "secretsmanager:GetSecretValue"
    assert resources(secrets) == [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:teams/web/git/*"]


def test_an_empty_prefix_grants_no_git_credentials(aws: boto3.Session) -> None:
    deploy_pipeline(aws, "nogitcreds", GitSecretPrefix="")
    policy = role_policy(aws.client("iam"), "nogitcreds-builder", "pushdeploy-builder")

    sids = {s["Sid"] for s in policy["Statement"] if isinstance(s, dict)}
    assert not sids & {"ReadHostedGitCredentialsFromSsm", "ReadHostedGitCredentialsFromSecretsManager"}
