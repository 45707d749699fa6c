"""Credentials for hosted git (GitHub, GitLab, Bitbucket): a token over https, a deploy key over ssh.

The secret lives in SSM (SecureString) or Secrets Manager and is read again at every fetch, so a
job that rotates it (a GitHub App installation token lasts an hour) needs nothing from the agent.
It reaches git without ever being in argv, in the environment, or in a URL git could print:

- https: ``-c credential.helper=`` (forget every helper the machine configures) and a helper scoped
  to the source's ``scheme://host[:port]`` that cats a 0600 file: a redirect to another host gets
  nothing. The helper's command line holds the file's path only.
- ssh: the key in a 0600 file, ``GIT_SSH_COMMAND`` = ``ssh -i FILE -o IdentitiesOnly=yes
  -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=KNOWN_HOSTS``. The host key
  must be pinned (``source_known_hosts``): accepting whatever key answers first would hand the
  repository to anyone who can intercept the builder's first connection.

Both files live in a fresh 0700 directory that is removed when the git call returns, also when it
fails. Error text from git or AWS is scrubbed of the secret before anyone sees it.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError

from agent import AgentError

if TYPE_CHECKING:  # pragma: no cover
    from agent.aws import Clients

DEFAULT_USERNAME = "x-access-token"  # GitHub's name for App installation tokens; PATs accept any name
SECRET_STORES = ("ssm", "secretsmanager")
_SSH_SCHEMES = ("ssh", "git+ssh", "ssh+git")
_REDACTED = "***"


class CredentialError(AgentError):
    """A secret could not be read or handed to git; the message never holds the secret."""


class SourceSettingError(ValueError):
    """A pipeline's source settings are inconsistent: ``key`` names the setting, the message the problem."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True)
class SecretRef:
    store: str  # "ssm" | "secretsmanager"
    name: str

    def __str__(self) -> str:
        return f"{self.store}:{self.name}"


@dataclass(frozen=True)
class SourceAuth:
    """What the settings file says about a pipeline's credentials (names of secrets, never values)."""

    token: SecretRef | None = None
    username: str = DEFAULT_USERNAME
    ssh_key: SecretRef | None = None
    known_hosts: str = ""  # an absolute path to a known_hosts file, or known_hosts lines


def parse_secret_ref(value: str) -> SecretRef:
    store, sep, name = value.partition(":")
    if not sep or store not in SECRET_STORES or not name.strip():
        raise ValueError(f"expected ssm:NAME (an SSM SecureString) or secretsmanager:NAME-OR-ARN, got {value!r}")
    if any(ch.isspace() for ch in name):
        raise ValueError(f"a secret name has no spaces, got {value!r}")
    return SecretRef(store, name)


def url_kind(url: str) -> str:
    """"http", "ssh", "codecommit" or "local", by git's own rules (``host:path`` before any slash is ssh)."""
    if url.startswith("codecommit:"):
        return "codecommit"
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        return "http" if scheme in ("http", "https") else "ssh" if scheme in _SSH_SCHEMES else "local"
    colon, slash = url.find(":"), url.find("/")
    if colon > 0 and (slash < 0 or colon < slash):
        return "ssh"
    return "local"


def without_credentials(url: str) -> str:
    """The URL as it may be shown: any password (and for http, any user name: often a token) removed."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host += f":{parts.port}"
    if parts.username and parts.scheme.lower() in _SSH_SCHEMES:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_source(url: str, data: dict[str, Any]) -> SourceAuth | None:
    """Validate ``source_url`` with the credential keys of its pipeline; raise SourceSettingError."""
    kind = url_kind(url)
    _refuse_embedded_secret(url, kind)
    token, key = data.get("source_token"), data.get("source_ssh_key")
    for name in ("source_username", "source_known_hosts"):
        if name in data and not isinstance(data[name], str):
            raise SourceSettingError(name, f"expected a string, got {type(data[name]).__name__}")
    if token is not None and key is not None:
        raise SourceSettingError("source_ssh_key", "give source_token (https URLs) or source_ssh_key "
                                                   "(ssh URLs), not both")
    if token is not None:
        return _token_auth(url, kind, token, data)
    if key is not None:
        return _ssh_auth(kind, key, data)
    for name in ("source_username", "source_known_hosts"):
        if name in data:
            needs = "source_token" if name == "source_username" else "source_ssh_key"
            raise SourceSettingError(name, f"only used with {needs}")
    return None


def _refuse_embedded_secret(url: str, kind: str) -> None:
    if "://" not in url or kind not in ("http", "ssh"):
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise SourceSettingError("source_url", f"not a valid URL: {exc}") from None
    if parts.password is not None or (kind == "http" and parts.username is not None):
        raise SourceSettingError("source_url", f"{without_credentials(url)} must not embed a user name, password "
                                               "or token: store the token in SSM or Secrets Manager and name it "
                                               "with source_token (and source_username)")


def _ref(key: str, value: Any) -> SecretRef:
    if not isinstance(value, str):
        raise SourceSettingError(key, f"expected a string, got {type(value).__name__}")
    try:
        return parse_secret_ref(value)
    except ValueError as exc:
        raise SourceSettingError(key, str(exc)) from None


def _token_auth(url: str, kind: str, token: Any, data: dict[str, Any]) -> SourceAuth:
    ref = _ref("source_token", token)
    if kind != "http":
        raise SourceSettingError("source_token", "only for http(s) URLs (use source_ssh_key for ssh URLs)")
    parts = urlsplit(url)
    if parts.scheme.lower() == "http" and not _is_loopback(parts.hostname or ""):
        raise SourceSettingError("source_token", f"{url} is plain http: the token would cross the network "
                                                 "unencrypted; use https")
    if "source_known_hosts" in data:
        raise SourceSettingError("source_known_hosts", "only used with source_ssh_key")
    username = data.get("source_username", DEFAULT_USERNAME)
    if not username.strip() or any(ch in username for ch in "\r\n\0"):
        raise SourceSettingError("source_username", f"must be a non-empty single line, got {username!r}")
    return SourceAuth(token=ref, username=username)


def _ssh_auth(kind: str, key: Any, data: dict[str, Any]) -> SourceAuth:
    ref = _ref("source_ssh_key", key)
    if kind != "ssh":
        raise SourceSettingError("source_ssh_key", "only for ssh URLs (ssh://git@host/path or git@host:path); "
                                                   "use source_token for https")
    if "source_username" in data:
        raise SourceSettingError("source_username", "only used with source_token (an ssh URL names its user)")
    known = data.get("source_known_hosts", "")
    if not known.strip():
        raise SourceSettingError("source_known_hosts", "required with source_ssh_key: the builder only talks to a "
                                                       "host whose key is pinned (see docs/agent.md, Private "
                                                       "repositories)")
    if not os.path.isabs(known.strip()):
        for line in known.strip().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and len(line.split()) < 3:
                raise SourceSettingError("source_known_hosts", f"expected an absolute path or known_hosts lines "
                                                               f"('HOST KEYTYPE KEY'), got {line.strip()!r}")
    return SourceAuth(ssh_key=ref, known_hosts=known)


# ---------------------------------------------------------------- reading the secret


class SecretStore:
    """Reads a secret by reference with the agent's clients, at every call (no cache: rotation just works)."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def read(self, ref: SecretRef) -> str:
        try:
            if ref.store == "ssm":
                value = self.clients.ssm.get_parameter(Name=ref.name, WithDecryption=True)["Parameter"]["Value"]
            else:
                answer = self.clients.secretsmanager.get_secret_value(SecretId=ref.name)
                value = answer.get("SecretString")
                if value is None:
                    value = base64.b64decode(answer["SecretBinary"]).decode("utf-8") \
                        if isinstance(answer["SecretBinary"], str) else answer["SecretBinary"].decode("utf-8")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CredentialError(f"cannot read {ref}: {error.get('Code', 'error')}: {error.get('Message', '')}"
                                  .rstrip(": ")) from None
        except (BotoCoreError, KeyError, UnicodeDecodeError) as exc:
            raise CredentialError(f"cannot read {ref}: {type(exc).__name__}") from None
        if not value.strip():
            raise CredentialError(f"{ref} is empty")
        return value


# ---------------------------------------------------------------- handing it to git


@dataclass(frozen=True)
class GitAuth:
    """What one git call needs: ``-c`` options, environment additions, and what to scrub from its output."""

    config: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        return [arg for option in self.config for arg in ("-c", option)]

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, _REDACTED)
        return text


class GitCredentials:
    """A pipeline's credentials: the secret names from the settings file, read from AWS per fetch."""

    def __init__(self, auth: SourceAuth, store: SecretStore) -> None:
        self.auth = auth
        self.store = store

    @contextmanager
    def for_url(self, url: str) -> Iterator[GitAuth]:
        """Read the secret, write it to a 0600 file in a new 0700 directory, remove both on exit."""
        ref = self.auth.token or self.auth.ssh_key
        assert ref is not None
        secret = self.store.read(ref)
        scratch = Path(tempfile.mkdtemp(prefix="pushdeploy-git-auth-"))  # mode 0700
        try:
            if self.auth.token is not None:
                yield self._https(url, secret.strip(), scratch)
            else:
                yield self._ssh(secret, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _https(self, url: str, token: str, scratch: Path) -> GitAuth:
        if any(ch in token for ch in "\r\n\0"):
            raise CredentialError(f"{self.auth.token}: the token must be a single line")
        username = self.auth.username
        path = _private_file(scratch / "credential", f"username={username}\npassword={token}\n")
        helper = f"!f() {{ test \"$1\" = get && cat {shlex.quote(str(path))}; }}; f"
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        basic = base64.b64encode(f"{username}:{token}".encode()).decode()
        return GitAuth(config=("credential.helper=", f"credential.{origin}.helper={helper}"),
                       secrets=(token, quote(token, safe=""), basic))

    def _ssh(self, key: str, scratch: Path) -> GitAuth:
        key_file = _private_file(scratch / "deploy-key", key.strip() + "\n")  # OpenSSH wants the final newline
        known_hosts = self._known_hosts(scratch)
        command = shlex.join(["ssh", "-i", str(key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                              "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}",
                              "-o", "GlobalKnownHostsFile=/dev/null"])
        lines = [line.strip() for line in key.splitlines()
                 if len(line.strip()) >= 8 and not line.strip().startswith("-----")]
        return GitAuth(env=(("GIT_SSH_COMMAND", command), ("GIT_SSH_VARIANT", "ssh")),
                       secrets=(key.strip(), *lines))

    def _known_hosts(self, scratch: Path) -> Path:
        known = self.auth.known_hosts.strip()
        if os.path.isabs(known):
            if not os.path.isfile(known):
                raise CredentialError(f"source_known_hosts: {known} does not exist")
            return Path(known)
        path = scratch / "known_hosts"
        path.write_text(known + "\n", encoding="utf-8")
        return path


def _private_file(path: Path, text: str) -> Path:
    """Created 0600 from the start (no window in which another user could open it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def credentials_for(auth: SourceAuth | None, clients: Clients) -> GitCredentials | None:
    return None if auth is None else GitCredentials(auth, SecretStore(clients))
