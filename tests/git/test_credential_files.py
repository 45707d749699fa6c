"""The secret lives on disk only while git runs: a 0600 file in a fresh 0700 directory, removed when the
call ends, also when it fails; and it is read anew for every fetch, so a rotated token is used at once."""

from __future__ import annotations

import pytest

from agent.aws import make_clients
from agent.git.credentials import GitCredentials, SecretRef, SecretStore, SourceAuth
from tests.git.gitrig import auth_temp_dirs, mode

URL = "https://github.com/octo/app.git"


def credentials(aws, value: str) -> GitCredentials:
    aws.client("secretsmanager").create_secret(Name="pushdeploy/git/octo", SecretString=value)
    return GitCredentials(SourceAuth(token=SecretRef("secretsmanager", "pushdeploy/git/octo")),
                          SecretStore(make_clients("us-east-1")))


def test_the_credential_file_is_private_while_git_runs_and_gone_after(aws, scratch):
    with credentials(aws, "ghs_first").for_url(URL) as auth:
        (folder,) = auth_temp_dirs(scratch)
        (file,) = folder.iterdir()
        assert (mode(folder), mode(file)) == (0o700, 0o600)
        assert file.read_text() == "username=x-access-token\npassword=ghs_first\n"
        assert auth.config[0] == "credential.helper="  # every helper the machine has is forgotten first
        assert auth.config[1].startswith("credential.https://github.com.helper=!")
        assert "ghs_first" not in " ".join(auth.argv())

    assert auth_temp_dirs(scratch) == []


def test_the_file_is_removed_when_the_git_call_fails(aws, scratch):
    with pytest.raises(RuntimeError), credentials(aws, "ghs_first").for_url(URL):
        assert len(auth_temp_dirs(scratch)) == 1
        raise RuntimeError("git failed")

    assert auth_temp_dirs(scratch) == []


def test_a_rotated_token_is_used_at_the_next_fetch(aws, scratch):
    creds = credentials(aws, "ghs_first")
    with creds.for_url(URL):
        (folder,) = auth_temp_dirs(scratch)
        assert "password=ghs_first\n" in (folder / "credential").read_text()
    aws.client("secretsmanager").put_secret_value(SecretId="pushdeploy/git/octo", SecretString="ghs_second")

    with creds.for_url(URL):
        (folder,) = auth_temp_dirs(scratch)
        assert "password=ghs_second\n" in (folder / "credential").read_text()
