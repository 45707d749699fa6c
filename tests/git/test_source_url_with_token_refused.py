"""A source_url that carries a token or password is refused when the settings file loads, naming the
key and pointing at source_token, without repeating the secret in the error."""

from __future__ import annotations

import pytest

from agent.config import ConfigError, load_config
from tests.git.settingsfile import settings_file

SECRET = "ghp_" + "A1b2C3d4" * 4


@pytest.mark.parametrize("url", [
    f"https://x-access-token:{SECRET}@github.com/octo/app.git",  # GitHub App token as the password
    f"https://{SECRET}@github.com/octo/app.git",                  # a PAT as the user name
    f"https://gitlab+deploy-token-7:{SECRET}@gitlab.com/octo/app.git",
    f"ssh://git:{SECRET}@github.com/octo/app.git",
])
def test_a_url_with_an_embedded_credential_is_refused_at_load(tmp_path, url):
    path = settings_file(tmp_path, f'source_url = "{url}"')

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: pipelines[0].source_url: ")
    assert "source_token" in message
    assert SECRET not in message
    assert "github.com/octo/app.git" in message or "gitlab.com/octo/app.git" in message


def test_the_same_url_without_the_credential_loads_with_source_token(tmp_path):
    path = settings_file(tmp_path, 'source_url = "https://github.com/octo/app.git"\n'
                                   'source_token = "ssm:/pushdeploy/git/octo"')

    pipeline = load_config(path).pipeline("octo/app/main")

    assert pipeline.source_auth is not None
    assert str(pipeline.source_auth.token) == "ssm:/pushdeploy/git/octo"
    assert pipeline.source_auth.username == "x-access-token"
