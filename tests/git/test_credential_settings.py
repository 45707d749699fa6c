"""The credential keys of a pipeline are checked when the settings file loads: each mistake names the
file, the key and the problem, before any build could send a secret the wrong way."""

from __future__ import annotations

import pytest

from agent.config import ConfigError, load_config
from tests.git.settingsfile import settings_file

HTTPS = 'source_url = "https://gitlab.com/octo/app.git"\n'
SSH = 'source_url = "git@github.com:octo/app.git"\n'
GITHUB_ED25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"  # github.com's published key
PIN = f'source_known_hosts = "github.com ssh-ed25519 {GITHUB_ED25519}"\n'


@pytest.mark.parametrize(("source", "key", "problem"), [
    (HTTPS + 'source_token = "/pushdeploy/git/octo"', "source_token", "expected ssm:NAME"),
    (HTTPS + 'source_token = "vault:/x"', "source_token", "expected ssm:NAME"),
    (HTTPS + 'source_token = 7', "source_token", "expected a string"),
    (SSH + 'source_token = "ssm:/t"', "source_token", "only for http(s) URLs"),
    ('source_url = "http://git.example.com/app.git"\nsource_token = "ssm:/t"', "source_token", "use https"),
    (HTTPS + 'source_username = "gitlab+deploy-token-7"', "source_username", "only used with source_token"),
    (HTTPS + 'source_token = "ssm:/t"\nsource_username = ""', "source_username", "non-empty"),
    (HTTPS + 'source_ssh_key = "ssm:/k"\n' + PIN, "source_ssh_key", "only for ssh URLs"),
    (SSH + 'source_ssh_key = "secretsmanager:deploy-key"', "source_known_hosts", "required with source_ssh_key"),
    (SSH + 'source_ssh_key = "ssm:/k"\nsource_known_hosts = "github.com"', "source_known_hosts",
     "absolute path or known_hosts lines"),
    (SSH + PIN, "source_known_hosts", "only used with source_ssh_key"),
    (SSH + 'source_ssh_key = "ssm:/k"\nsource_token = "ssm:/t"\n' + PIN, "source_ssh_key", "not both"),
])
def test_a_wrong_credential_setting_names_the_file_key_and_problem(tmp_path, source, key, problem):
    path = settings_file(tmp_path, source)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}: pipelines[0].{key}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(("source", "store", "username"), [
    (HTTPS + 'source_token = "secretsmanager:pushdeploy/git/gitlab"\nsource_username = "gitlab+deploy-token-7"',
     "secretsmanager", "gitlab+deploy-token-7"),
    ('source_url = "http://127.0.0.1:8080/app.git"\nsource_token = "ssm:/rig/token"', "ssm", "x-access-token"),
])
def test_token_settings_load(tmp_path, source, store, username):
    auth = load_config(settings_file(tmp_path, source)).pipelines[0].source_auth

    assert auth is not None and auth.token is not None
    assert (auth.token.store, auth.username) == (store, username)


@pytest.mark.parametrize("url", ["git@github.com:octo/app.git", "ssh://git@bitbucket.org/octo/app.git"])
def test_ssh_settings_load_with_a_pinned_host_key(tmp_path, url):
    auth = load_config(settings_file(tmp_path, f'source_url = "{url}"\nsource_ssh_key = "ssm:/pushdeploy/git/key"\n'
                                               + PIN)).pipelines[0].source_auth

    assert auth is not None and auth.ssh_key is not None and auth.token is None
    assert auth.known_hosts.startswith("github.com ssh-ed25519 ")


def test_a_pipeline_without_credentials_has_none(tmp_path):
    assert load_config(settings_file(tmp_path, SSH)).pipelines[0].source_auth is None
