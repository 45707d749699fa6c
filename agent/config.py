"""The agent's one settings file: ``[agent]`` settings plus ``[[pipelines]]`` (TOML, see docs/agent.md).

Everything the seed hard-coded (queue, topic, region, repository, cluster, service) lives here,
so the code has no account-specific values. The file is checked in full before any work starts:
a typo must stop the agent with the file and the key named, not surface mid-deploy.
"""

from __future__ import annotations

import os
import posixpath
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import AgentError
from agent.git.credentials import SourceAuth, SourceSettingError, check_source
from chalicelib.contracts import pipeline_id

DEFAULT_PATH = "/etc/pushdeploy/agent.toml"
ENV_VAR = "PUSHDEPLOY_CONFIG"


class ConfigError(AgentError):
    """The settings file is missing or wrong; the message is ``<file>: <key>: <problem>``."""


@dataclass(frozen=True)
class AgentSettings:
    region: str
    queue_url: str
    close_topic_arn: str
    log_group: str = "/pushdeploy/builds"
    cache_dir: str = "/var/lib/pushdeploy"
    idle_grace_seconds: float = 60
    instance_id: str = ""
    visibility_timeout_seconds: int = 300
    dead_letter_queue_url: str = ""
    retry_budget_seconds: float = 300
    keep_images: int = 5  # housekeeping: newest image tags kept per repository (plus deployed ones)
    build_cache_limit_mb: int = 10240  # housekeeping: prune dangling images and build cache above this
    history_table: str = ""  # build history (DynamoDB): `pushdeploy-agent history` / `status` read it


@dataclass(frozen=True)
class DeployTargetConfig:
    cluster: str
    services: tuple[str, ...]
    containers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    repository: str
    branch: str
    source_url: str
    image_repository: str
    context: str = "."
    dockerfile: str = "Dockerfile"
    target: str = ""
    build_args: tuple[tuple[str, str], ...] = ()
    registry: str = ""
    wait_timeout_seconds: int = 900
    keep_revisions: int = 10
    deploy: tuple[DeployTargetConfig, ...] = ()
    source_auth: SourceAuth | None = None  # source_token / source_ssh_key: names of secrets, never values

    @property
    def id(self) -> str:
        return pipeline_id(self.repository, self.branch)


@dataclass(frozen=True)
class Config:
    path: str
    agent: AgentSettings
    pipelines: tuple[Pipeline, ...]

    def pipeline(self, pid: str) -> Pipeline:
        for pipeline in self.pipelines:
            if pipeline.id == pid:
                return pipeline
        known = ", ".join(p.id for p in self.pipelines)
        raise ConfigError(f"{self.path}: no pipeline {pid!r} (configured: {known})")


def default_path() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_PATH


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the settings file; raise ConfigError naming the file and the key."""
    name = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found (use --config or {ENV_VAR})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
    return parse_config(data, name)


ENV_FILE_KEYS = ("PUSHDEPLOY_CLOSE_TOPIC_ARN", "AWS_DEFAULT_REGION")


def write_env_file(config: Config, path: str | os.PathLike[str]) -> None:
    """/etc/pushdeploy/agent.env for a hand install: the values ``run`` and the stop hook fall back to when
    the settings file does not load (the template's user data writes the same file on EC2)."""
    values = (config.agent.close_topic_arn, config.agent.region)
    Path(path).write_text("".join(f"{k}={v}\n" for k, v in zip(ENV_FILE_KEYS, values, strict=True)), encoding="utf-8")


def parse_config(data: Mapping[str, Any], name: str = "agent.toml") -> Config:
    reader = _Reader(name)
    reader.no_unknown(data, "", {"agent", "pipelines"})
    agent = _agent_settings(reader, reader.table(data, "agent", required=True))
    pipelines = reader.array_of_tables(data, "pipelines", "", required=True)
    parsed = tuple(_pipeline(reader, item, f"pipelines[{i}].") for i, item in enumerate(pipelines))
    seen: dict[str, int] = {}
    for i, pipeline in enumerate(parsed):
        if pipeline.id in seen:
            reader.fail(f"pipelines[{i}]", f"duplicate pipeline {pipeline.id!r} (also pipelines[{seen[pipeline.id]}])")
        seen[pipeline.id] = i
    return Config(name, agent, parsed)


_AGENT_KEYS = {"region", "queue_url", "close_topic_arn", "log_group", "cache_dir", "idle_grace_seconds",
               "instance_id", "visibility_timeout_seconds", "dead_letter_queue_url", "retry_budget_seconds",
               "keep_images", "build_cache_limit_mb", "history_table"}
_PIPELINE_KEYS = {"repository", "branch", "source_url", "context", "dockerfile", "target", "build_args",
                  "image_repository", "registry", "wait_timeout_seconds", "keep_revisions", "deploy",
                  "source_token", "source_username", "source_ssh_key", "source_known_hosts"}
_DEPLOY_KEYS = {"cluster", "services", "containers"}


def _agent_settings(r: _Reader, data: Mapping[str, Any]) -> AgentSettings:
    p = "agent."
    r.no_unknown(data, p, _AGENT_KEYS)
    defaults = AgentSettings("", "", "")
    return AgentSettings(
        region=r.string(data, "region", p),
        queue_url=r.string(data, "queue_url", p),
        close_topic_arn=r.string(data, "close_topic_arn", p),
        log_group=r.string(data, "log_group", p, defaults.log_group),
        cache_dir=r.string(data, "cache_dir", p, defaults.cache_dir),
        idle_grace_seconds=r.number(data, "idle_grace_seconds", p, defaults.idle_grace_seconds),
        instance_id=r.string(data, "instance_id", p, "", allow_empty=True),
        visibility_timeout_seconds=r.integer(data, "visibility_timeout_seconds", p,
                                             defaults.visibility_timeout_seconds, minimum=2, maximum=43200),
        dead_letter_queue_url=r.string(data, "dead_letter_queue_url", p, "", allow_empty=True),
        retry_budget_seconds=r.number(data, "retry_budget_seconds", p, defaults.retry_budget_seconds),
        keep_images=r.integer(data, "keep_images", p, defaults.keep_images, minimum=1),
        build_cache_limit_mb=r.integer(data, "build_cache_limit_mb", p, defaults.build_cache_limit_mb),
        history_table=r.string(data, "history_table", p, "", allow_empty=True),
    )


def _pipeline(r: _Reader, data: Mapping[str, Any], p: str) -> Pipeline:
    r.no_unknown(data, p, _PIPELINE_KEYS)
    context = r.string(data, "context", p, ".")
    dockerfile = r.string(data, "dockerfile", p, "Dockerfile")
    for key, value in (("context", context), ("dockerfile", dockerfile)):
        r.relative_path(value, p + key)
    source_url = r.string(data, "source_url", p)
    try:
        source_auth = check_source(source_url, dict(data))
    except SourceSettingError as exc:
        r.fail(p + exc.key, str(exc))
    return Pipeline(
        repository=r.string(data, "repository", p),
        branch=r.string(data, "branch", p),
        source_url=source_url,
        source_auth=source_auth,
        image_repository=r.string(data, "image_repository", p),
        context=context,
        dockerfile=dockerfile,
        target=r.string(data, "target", p, "", allow_empty=True),
        build_args=r.string_map(data, "build_args", p),
        registry=r.string(data, "registry", p, "", allow_empty=True),
        wait_timeout_seconds=r.integer(data, "wait_timeout_seconds", p, 900, minimum=1),
        keep_revisions=r.integer(data, "keep_revisions", p, 10, minimum=0),  # 0 keeps every revision
        deploy=tuple(_deploy(r, item, f"{p}deploy[{i}].")
                     for i, item in enumerate(r.array_of_tables(data, "deploy", p))),
    )


def _deploy(r: _Reader, data: Mapping[str, Any], p: str) -> DeployTargetConfig:
    r.no_unknown(data, p, _DEPLOY_KEYS)
    services = r.string_list(data, "services", p, required=True)
    if not services:
        r.fail(p + "services", "needs at least one service")
    return DeployTargetConfig(r.string(data, "cluster", p), services, r.string_list(data, "containers", p))


class _Reader:
    """Typed access to the parsed TOML that reports ``<file>: <key path>: <problem>``."""

    _MISSING = object()

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, key: str, problem: str) -> None:
        raise ConfigError(f"{self.name}: {key}: {problem}")

    def no_unknown(self, data: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.fail(prefix + key, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, data: Mapping[str, Any], key: str, required: bool = False) -> Mapping[str, Any]:
        value = data.get(key, self._MISSING)
        if value is self._MISSING:
            if required:
                self.fail(key, "required table")
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"expected a table, got {_kind(value)}")
        return value

    def array_of_tables(self, data: Mapping[str, Any], key: str, prefix: str,
                        required: bool = False) -> list[Mapping[str, Any]]:
        value = data.get(key, self._MISSING)
        if value is self._MISSING or value == []:
            if required:
                self.fail(prefix + key, f"required: at least one [[{prefix}{key}]] table")
            return []
        if not isinstance(value, list):
            self.fail(prefix + key, f"expected an array of tables ([[{prefix}{key}]]), got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                self.fail(f"{prefix}{key}[{i}]", f"expected a table, got {_kind(item)}")
        return value

    def string(self, data: Mapping[str, Any], key: str, prefix: str, default: Any = _MISSING,
               allow_empty: bool = False) -> str:
        value = data.get(key, self._MISSING)
        if value is self._MISSING:
            if default is self._MISSING:
                self.fail(prefix + key, "required")
            return default
        if not isinstance(value, str):
            self.fail(prefix + key, f"expected a string, got {_kind(value)}")
        if not allow_empty and not value.strip():
            self.fail(prefix + key, "must not be empty")
        return value

    def integer(self, data: Mapping[str, Any], key: str, prefix: str, default: int,
                minimum: int = 0, maximum: int | None = None) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(prefix + key, f"expected an integer, got {_kind(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            self.fail(prefix + key, f"must be >= {minimum}{upper}, got {value}")
        return value

    def number(self, data: Mapping[str, Any], key: str, prefix: str, default: float) -> float:
        value = data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(prefix + key, f"expected a number of seconds, got {_kind(value)}")
        if value < 0:
            self.fail(prefix + key, f"must be >= 0, got {value}")
        return value

    def string_list(self, data: Mapping[str, Any], key: str, prefix: str, required: bool = False) -> tuple[str, ...]:
        value = data.get(key, self._MISSING)
        if value is self._MISSING:
            if required:
                self.fail(prefix + key, "required")
            return ()
        if not isinstance(value, list):
            self.fail(prefix + key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{prefix}{key}[{i}]", f"expected a non-empty string, got {item!r}")
        return tuple(value)

    def string_map(self, data: Mapping[str, Any], key: str, prefix: str) -> tuple[tuple[str, str], ...]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(prefix + key, f"expected a table, got {_kind(value)}")
        for name, item in value.items():
            if not isinstance(item, str):
                self.fail(f"{prefix}{key}.{name}", f"expected a string, got {_kind(item)}")
        return tuple(value.items())

    def relative_path(self, value: str, key: str) -> None:
        """Context and Dockerfile are inside the checkout; anything else would build host files."""
        normal = posixpath.normpath(value)
        if posixpath.isabs(value) or normal == ".." or normal.startswith("../"):
            self.fail(key, f"must be a path inside the repository, got {value!r}")


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a float"}.get(type(value), type(value).__name__)
