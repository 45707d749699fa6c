"""The whole pipeline on one machine: every stand-in started, provisioned and wired together.

``LocalRig.start()`` brings up moto (AWS), a Docker engine and a registry, the Slack receiver,
provisions the pipeline account, starts the Lambda host (the Chalice app's handlers) and
subscribes it to the topics over SNS ``http`` subscriptions, creates the CodeCommit stand-in
repositories with their push hooks, writes the agent's settings, and watches the builder
instance. After that, ``push()`` is a real ``git push`` and everything else follows from it.

The demo, the end-to-end tests and the benchmark all drive this one class.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.progress import read_stamp
from chalicelib.arns import ArnError, parse_arn, parse_task_definition
from chalicelib.contracts import Alert, BuildResult, ContractError, EndOfRun, parse_build_request, parse_close_message
from localrig import agent_config, services
from localrig.aws.faults import FaultSwitch
from localrig.builder import BuilderMachine, instance_state, queue_depth
from localrig.git import codecommit
from localrig.iam import principals
from localrig.iam.principals import Keys
from localrig.imds import MetadataService
from localrig.lambdas import chalice_local, local_stage
from localrig.lambdas.lambda_worker import PART_VARIABLE
from localrig.lambdas.sqs_source import queue_url
from localrig.ledger.context import child_variables as ledger_variables
from localrig.ledger.recorder import INSTANCE_VARIABLE as LEDGER_INSTANCE_VARIABLE
from localrig.provision import AccountSpec, PipelineSpec, lambda_environment, provision_with
from localrig.slack import SlackReceiver, render_message

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_APP = REPO_ROOT / "examples" / "sample"
TRIGGER_FUNCTION = "request"
ADMIN_PART = "admin"  # the rig and the tests: provisioning, fixtures, checks (not a part of the product)
BUILDER_PART = "builder"  # the part every agent process signs as: the pipeline stack's BuilderRole
FAILURE_QUEUE_NAME = "pushdeploy-lambda-failures"  # the pipeline stack's LambdaFailureQueue
WAKE_RETRY_SECONDS = 1  # build_start's retries of a failed wake batch: 1 s apart (5 receives, then the DLQ)


@dataclass
class RigEvent:
    """One thing that happened, as narrated: ``stage`` names the AWS part it stands for.

    ``time`` is when it happened, from the part's own record (the Lambda host's journal, SNS's Timestamp,
    the agent's stamped line, the Slack receiver's arrival time), because the rig reads most records a poll
    or more after they were written; ``seen`` is when the rig read it. ``rig.events`` is kept in ``time`` order."""

    time: float
    stage: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    seen: float = 0.0


Listener = Callable[[RigEvent], None]


class RigError(RuntimeError):
    """The rig could not start, or a part of it failed; the message says which."""


class LocalRig:
    def __init__(self, run_dir: Path, pipelines: list[PipelineSpec], docker_dir: Path | None = None,
                 engine: services.DockerEngine | None = None, on_event: Listener | None = None,
                 idle_grace_seconds: int = 1, example_app: Path = EXAMPLE_APP,
                 provisioner: str = "cloudformation", visibility_timeout_seconds: int | None = 10,
                 wait_timeout_seconds: int = 120, builders: int = 1,
                 build_args: dict[str, str] | None = None, enforce_iam: bool | None = None,
                 drop_actions: dict[str, str] | None = None) -> None:
        """``visibility_timeout_seconds`` is the agent's (None: its 300 s default). The rig's 10 s matters
        because a machine stop SIGTERMs the agent in the middle of its 20 s long poll, and SQS (moto as
        well) still completes that receive: a request arriving in those seconds is taken by nobody and
        stays hidden for the visibility timeout. On AWS that delays it by up to 5 minutes; in a story, 10 s.

        ``builders`` is the pool's size N: N instances, each its own machine (agent process, settings with its
        own ``instance_id`` and ``cache_dir``, log dir); with N > 1 each also gets its own Docker engine, as
        separate EC2 machines have separate layer caches (the registry stays shared, as ECR is).
        ``build_args`` go to every pipeline's build (the sample's ``build_seconds=3``: a build that waits).

        ``enforce_iam`` (default: on with the CloudFormation provisioner, whose stack holds the builder's role):
        moto enforces IAM, the rig signs as its admin user and every part as its own role (localrig.iam.principals).
        ``drop_actions`` (part -> action) leaves one action out of a part's role: a planted missing permission."""
        if builders < 1:
            raise ValueError(f"a pool has at least one builder, not {builders}")
        self.pool_size = builders
        self.build_args = dict(build_args or {})
        self.builders: list[BuilderMachine] = []
        self._runtime_dirs: list[Path] = []  # the builders' engines' short socket dirs, removed at stop
        self._metadata: list[MetadataService] = []  # each builder's instance metadata service
        self.run_dir = run_dir
        self.pipelines = pipelines
        self.docker_dir = docker_dir or run_dir / "docker"
        self.engine = engine
        self.on_event = on_event
        self.idle_grace_seconds = idle_grace_seconds
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.wait_timeout_seconds = wait_timeout_seconds  # the agent's rollout wait before it rolls back
        self.example_app = example_app
        self.provisioner = provisioner
        self.enforce_iam = provisioner == "cloudformation" if enforce_iam is None else enforce_iam
        self.drop_actions = dict(drop_actions or {})
        self.part_keys: dict[str, Keys] = {}  # part -> its role's credentials (IAM enforced)
        self.part_roles: dict[str, str] = {}  # part -> its role's ARN
        self.started = time.time()
        self.events: list[RigEvent] = []
        self._events_lock = threading.Lock()
        self._parts = services.Rig()
        self._closing = threading.Event()
        self._journal_offset = 0
        self._agent_offsets: dict[Path, int] = {}
        self._agent_last: dict[tuple[int, int], float] = {}  # (builder, boot) -> time of its last stamped line
        self._actions = itertools.count()
        self._in_flight: dict[int, float] = {}  # the rig's own actions under way (a push) -> when each began
        self._close_messages: list[tuple[float, Any]] = []
        self.outputs: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self.bare: dict[str, Path] = {}
        self.work: dict[str, Path] = {}
        # repositories moved to a hosted provider (localrig.git.hosted): the agent's source settings for each, the
        # provider's name, and the environment the developer's git needs there (its credentials, never in argv)
        self.source_settings: dict[str, dict[str, str]] = {}
        self.hosts: dict[str, str] = {}
        self.git_env: dict[Path, dict[str, str]] = {}
        self.git_http: Any = None  # localrig.git.git_http's server, once a repository is hosted
        self.chalice_local: chalice_local.ChaliceLocal | None = None

    # ------------------------------------------------------------ start / stop

    def start(self) -> LocalRig:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_parts()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        self.faults = FaultSwitch(self.run_dir / "moto" / "faults.json")
        self.moto = self._parts.add(services.start_moto(self.run_dir / "moto", running_tasks=1,
                                                        faults_file=self.faults.path, enforce_iam=self.enforce_iam))
        enforced = f", IAM enforced (the rig signs as {self.moto.keys.arn})" if self.enforce_iam else ""
        self.emit("aws", f"moto server at {self.moto.url}{enforced}")
        if self.engine is None:
            self.engine = self._parts.add(services.find_or_start_docker(self.docker_dir))
        self.emit("docker", f"engine at {self.engine.host}")
        self.base_image = services.ensure_base_image(self.engine)
        self.registry = self._parts.add(services.start_registry(self.run_dir / "registry"))
        self.emit("ecr", f"registry at {self.registry.address} (stands in for the ECR endpoint)")
        self.slack = SlackReceiver(self.run_dir / "slack.jsonl", on_payload=self._on_slack)
        self.session = self.moto.session()
        initial = {p.key: f"{self.registry.address}/{p.image_repository}:initial" for p in self.pipelines}
        self.outputs = self._provision(initial)
        self._shorten_wake_retries()
        self._make_principals()
        how = "stack from infra/pipeline.yaml" if self.provisioner == "cloudformation" else "API calls"
        pool = "builder (stopped)" if self.pool_size == 1 else f"{self.pool_size} builders (stopped)"
        self.emit("cloudformation", f"provisioned ({how}): topics, queue+DLQ, ECR, {pool}, SSM "
                  "parameter, log group; ECS cluster+service", dict(self.outputs))
        self._start_lambda_host()
        self._create_repositories()
        self._start_builders()
        self._narrator = threading.Thread(target=self._narrate, name="narrator", daemon=True)
        self._narrator.start()

    def _provision(self, initial: dict[str, str]) -> dict[str, str]:
        """The pipeline account, with a pool of ``builders`` instances from the builders' launch template."""
        provision = provision_with(self.provisioner)
        return provision(self.client, self.pipelines, self.slack.url, initial, builders=self.pool_size)

    def _shorten_wake_retries(self) -> None:
        """build_start reads the wake queue (WAKE_QUEUE_ARN); a failed invocation's batch runs again after the
        queue's visibility timeout, up to its redrive's maxReceiveCount. The rig shortens that timeout to
        WAKE_RETRY_SECONDS, as it shortens Lambda's async retries from minutes to seconds."""
        arn = self.outputs.get("WAKE_QUEUE_ARN")
        if not arn:
            return
        sqs = self.client("sqs")
        url = queue_url(sqs, arn)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(WAKE_RETRY_SECONDS)})
        self.emit("sqs", f"{_queue_name(arn)}: visibility timeout {WAKE_RETRY_SECONDS} s (build_start's "
                  "retries in seconds, not minutes)")

    def _make_principals(self) -> None:
        """With IAM enforced: a role per part carrying that part's policies as moto is given them, and its
        credentials (localrig.iam.principals)."""
        if not self.enforce_iam:
            return
        self.failure_queue_url = self._failure_queue()
        documents = principals.part_documents(self.client, AccountSpec().prefix, drop=self.drop_actions)
        self.part_roles = principals.make_part_roles(self.client, self.moto.keys.arn, documents)
        sts = self.client("sts")
        self.part_keys = {part: principals.assume(sts, arn, part) for part, arn in self.part_roles.items()}
        dropped = "".join(f"; planted: {part} without {action}" for part, action in self.drop_actions.items())
        self.emit("iam", f"a role per part, assumed by the rig's admin: {', '.join(sorted(self.part_roles))}{dropped}")

    def part_env(self, part: str) -> dict[str, str]:
        """The AWS_* credentials a part's process signs with (IAM enforced: its role's; else the rig's) and its
        name in PUSHDEPLOY_RIG_PART."""
        keys = self.part_keys.get(part, self.moto.keys) if self.enforce_iam else self.moto.keys
        if self.enforce_iam and part not in self.part_keys:
            raise RigError(f"no role for part {part!r}: the parts with policies are {sorted(self.part_keys)}")
        return {**keys.env(), PART_VARIABLE: part}

    def part_client(self, part: str, name: str) -> Any:
        """A boto3 client signing as ``part`` (its role's credentials), for checks of what a part may do."""
        keys = self.part_keys[part] if self.enforce_iam else self.moto.keys
        return keys.session(self.moto.region).client(name, endpoint_url=self.moto.url)

    def builder_metadata_url(self, index: int = 1) -> str:
        """Builder ``index``'s instance metadata endpoint (what 169.254.169.254 is on that machine)."""
        return self._metadata[index - 1].url

    def builder_instance_ids(self) -> list[str]:
        """The pool's instances in the provisioner's order: BUILDER_INSTANCE_IDS, or BUILDER_INSTANCE_ID alone."""
        ids = self.outputs.get("BUILDER_INSTANCE_IDS") or self.outputs["BUILDER_INSTANCE_ID"]
        return [i.strip() for i in ids.split(",") if i.strip()]

    def client(self, name: str) -> Any:
        """The rig's boto3 client for ``name``, bound to its moto server (one per service, made on first use)."""
        if name not in self._clients:
            self._clients[name] = self.session.client(name, endpoint_url=self.moto.url)
        return self._clients[name]

    def stop(self) -> None:
        """End the agent, the Slack receiver and every child process, even if ending one of them fails."""
        self._closing.set()
        try:
            for machine in self.builders:
                machine.stop()
            for imds in self._metadata:
                imds.stop()
        finally:
            try:
                if getattr(self, "slack", None) is not None:
                    self.slack.stop()
            finally:
                try:
                    self._parts.stop()
                finally:
                    for runtime in self._runtime_dirs:
                        shutil.rmtree(runtime, ignore_errors=True)

    def _child_env(self) -> dict[str, str]:
        """A child's environment, signing as the rig's admin until the caller gives it a part's credentials."""
        env = {name: value for name, value in os.environ.items() if name not in AWS_CREDENTIAL_VARIABLES}
        env.update(self.moto.client_env())
        env["DOCKER_HOST"] = self.engine.host if self.engine else ""
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(ledger_variables(self.run_dir, self.client, env["PYTHONPATH"]))  # every child records its calls
        return env

    def _start_lambda_host(self) -> None:
        env_file = self.run_dir / "lambda-env.json"
        env_file.write_text(json.dumps(lambda_environment(self.outputs, self.pipelines), indent=2))
        self.journal = self.run_dir / "lambda-journal.jsonl"
        self.failure_queue_url = getattr(self, "failure_queue_url", "") or self._failure_queue()
        port_file = self.run_dir / "lambda-port"
        argv = [sys.executable, "-m", "localrig.lambdas.lambda_host", "--app-dir", str(REPO_ROOT), "--env-file",
                str(env_file), "--journal", str(self.journal), "--port-file", str(port_file)]
        log = self.run_dir / "lambda-host.log"
        # the host is Lambda itself: it only finds the event sources' queues (as the deployer) and counts what they
        # hold, as the rig's admin; each function and each queue mapping signs as the function (lambda_host)
        env = dict(self._child_env(), PUSHDEPLOY_RIG_FAILURE_QUEUE_URL=self.failure_queue_url,
                   **{PART_VARIABLE: ADMIN_PART})
        if self.enforce_iam:
            credentials = self.run_dir / "lambda-credentials.json"
            credentials.write_text(json.dumps({part: keys.to_json() for part, keys in self.part_keys.items()}))
            credentials.chmod(0o600)
            argv += ["--credentials", str(credentials)]
        with open(log, "ab") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                                     start_new_session=True)
        self.lambda_host = self._parts.add(services.Process("lambda-host", popen, log))
        services.wait_until(lambda: port_file.exists() or not self.lambda_host.alive(), 60, "the Lambda host")
        if not self.lambda_host.alive():
            raise RigError(f"the Lambda host (app.py) did not start:\n{self.lambda_host.log_tail(30)}")
        self.lambda_url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        self._subscribe_lambda_host()
        self.emit("lambda", f"Chalice app loaded at {self.lambda_url}: {', '.join(self.lambda_functions())}")

    def _subscribe_lambda_host(self) -> None:
        """An SNS ``http`` subscription for each topic a function subscribes to, as Lambda's SNS triggers are:
        a topic that reaches its function through a queue (the FIFO request topic -> the wake queue ->
        build_start) gets none (SNS FIFO topics deliver to SQS only)."""
        with urllib.request.urlopen(f"{self.lambda_url}/health", timeout=5) as resp:
            wanted = set(json.load(resp).get("topics", []))
        sns = self.client("sns")
        for key in ("REQUEST_TOPIC_ARN", "CLOSE_TOPIC_ARN"):
            arn = self.outputs[key]
            if arn in wanted or _topic_name(arn) in wanted:
                sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"{self.lambda_url}/sns")

    def local_exports(self) -> dict[str, str]:
        """What `python -m localrig up` prints to export for `chalice local --stage local`
        (localrig.lambdas.local_stage)."""
        return local_stage.prepare(self)

    def start_chalice_local(self) -> str:
        """Start a real `chalice local --stage local` against this rig (stopped with it); return its URL."""
        env = local_stage.child_environment(self._child_env(), self.local_exports())
        env[PART_VARIABLE] = local_stage.API_PART
        self.chalice_local = chalice_local.start(env, self.run_dir / "chalice-local.log")
        self._parts.add(self.chalice_local)
        self.emit("apigateway", f"chalice local --stage local at {self.chalice_local.url}")
        return self.chalice_local.url

    def _failure_queue(self) -> str:
        """The functions' on-failure destination: the stack's failure queue (``python -m infra
        failure-destinations`` wires it on AWS); the API provisioner makes none, so the rig does."""
        sqs = self.client("sqs")
        try:
            return sqs.get_queue_url(QueueName=FAILURE_QUEUE_NAME)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return sqs.create_queue(QueueName=FAILURE_QUEUE_NAME)["QueueUrl"]

    def lambda_functions(self) -> list[str]:
        with urllib.request.urlopen(f"{self.lambda_url}/health", timeout=5) as resp:
            return json.load(resp)["functions"]

    def fire_schedule(self, function: str) -> None:
        """Fire a scheduled function's EventBridge rule now (stories last seconds, rules minutes)."""
        req = urllib.request.Request(f"{self.lambda_url}/schedule/{function}", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=5):
            pass
        self.emit("events", f"EventBridge schedule of {function} fired")

    def lambda_idle(self) -> bool:
        with urllib.request.urlopen(f"{self.lambda_url}/health", timeout=5) as resp:
            return bool(json.load(resp)["idle"])

    def _create_repositories(self) -> None:
        state = self.run_dir / "rig-state.json"
        state.write_text(json.dumps({"region": self.moto.region, "lambda_url": self.lambda_url,
                                     "trigger_function": TRIGGER_FUNCTION}))
        for name in sorted({p.repository for p in self.pipelines}):
            bare = self.run_dir / "git" / f"{name}.git"
            subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch", "main", str(bare)],
                           check=True, capture_output=True, timeout=30)
            work = self.run_dir / "work" / name
            self._seed(work, bare, name)
            codecommit.install_hook(bare, name, state)
            self.bare[name], self.work[name] = bare, work
        self.emit("codecommit", f"repositories {', '.join(self.bare)} with push triggers -> {TRIGGER_FUNCTION}")

    def _seed(self, work: Path, bare: Path, name: str) -> None:
        """The sample application on ``main`` (no trigger yet: the hook is installed after)."""
        shutil.copytree(self.example_app, work, ignore=shutil.ignore_patterns("FAIL_BUILD"))
        self.git(work, "init", "--quiet", "--initial-branch", "main")
        self.git(work, "remote", "add", "origin", str(bare))
        (work / "www" / "index.html").write_text(f"<h1>{name}</h1>\n<p>seed</p>\n")
        self.git(work, "add", "--", ".")
        self.git(work, "commit", "--quiet", "-m", f"{name}: sample application")
        self.git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main")

    def _start_builders(self) -> None:
        """One machine per pool instance; ``rig.builder`` is the first (the only one in a pool of one)."""
        for index, instance_id in enumerate(self.builder_instance_ids(), 1):
            self.builders.append(self._start_builder(index, instance_id))
        self.builder = self.builders[0]
        self.agent_config = self._builder_home(1) / "agent.toml"
        self.agent_env = self._builder_home(1) / "agent.env"

    def _builder_home(self, index: int) -> Path:
        """Where a builder's machine keeps its files: the run dir itself in a pool of one (as before pools)."""
        return self.run_dir if self.pool_size == 1 else self.run_dir / "builders" / str(index)

    def _start_builder(self, index: int, instance_id: str) -> BuilderMachine:
        """The builder as the template sets it up: the settings file, /etc/pushdeploy/agent.env (written by
        the user data from the stack's own resources) and the unit's ExecStart/ExecStopPost."""
        home = self._builder_home(index)
        home.mkdir(parents=True, exist_ok=True)
        engine = self._builder_engine(index, home)
        self._write_settings(home, instance_id)
        agent_env = home / "agent.env"
        agent_env.write_text(f"PUSHDEPLOY_CLOSE_TOPIC_ARN={self.outputs['CLOSE_TOPIC_ARN']}\n"
                             f"AWS_DEFAULT_REGION={self.outputs['REGION']}\n")
        config = str(home / "agent.toml")
        argv = [sys.executable, "-m", "agent", "run", "--config", config]
        stop_hook = [sys.executable, "-m", "agent", "end-of-run", "--if-service-failed", "--config", config]
        imds = self._metadata_service(instance_id).start()  # its own identity, as EC2's 169.254.169.254 gives it
        self._metadata.append(imds)
        env = dict(self._agent_env(home, imds), PUSHDEPLOY_CONFIG=config, DOCKER_HOST=engine.host,
                   PUSHDEPLOY_IMDS_URL=imds.url, **{LEDGER_INSTANCE_VARIABLE: instance_id})  # ec2:SourceInstanceARN
        if self.pool_size > 1:
            env["DOCKER_CONFIG"] = str(home / "docker-config")  # its own `docker login`, as its own machine
        return BuilderMachine(self.client("ec2"), instance_id, argv, env, home / "builder", cwd=REPO_ROOT,
                              on_event=lambda kind, data: self._on_builder(kind, dict(data, builder=index)),
                              stop_hook=stop_hook, environment_file=agent_env).start()

    def _metadata_service(self, instance_id: str) -> MetadataService:
        """The builder's IMDS; with IAM enforced it also serves the instance profile's (the builder role's)
        credentials, fresh from sts:AssumeRole on each read, as EC2 rotates them."""
        if not self.enforce_iam:
            return MetadataService(instance_id)
        sts, role_arn = self.client("sts"), self.part_roles[BUILDER_PART]
        return MetadataService(instance_id, principals.role_name(BUILDER_PART),
                               lambda: principals.assume(sts, role_arn, BUILDER_PART))

    def _agent_env(self, home: Path, imds: MetadataService) -> dict[str, str]:
        """The agent's environment, as the unit gives it on EC2: no keys (IAM enforced), so botocore's chain ends
        at the instance metadata service (``AWS_EC2_METADATA_SERVICE_ENDPOINT``), which serves the builder role;
        no shared credentials or config file either, as the AMI has none."""
        env = dict(self._child_env(), **{PART_VARIABLE: BUILDER_PART})
        if self.enforce_iam:
            for name in AWS_CREDENTIAL_VARIABLES:
                env.pop(name, None)
            env.update(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url, AWS_EC2_METADATA_DISABLED="false",
                       AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
                       AWS_CONFIG_FILE=str(home / "no-aws-config"))
        return env

    def _builder_engine(self, index: int, home: Path) -> services.DockerEngine:
        """The rig's engine in a pool of one; otherwise the builder's own dockerd, with the base image its AMI
        would carry."""
        if self.pool_size == 1:
            assert self.engine is not None
            return self.engine
        runtime = Path(tempfile.mkdtemp(prefix=f"pd-b{index}-", dir="/tmp"))  # short: the socket's path limit
        self._runtime_dirs.append(runtime)
        engine = self._parts.add(services.start_dockerd(home / "docker", runtime))
        assert isinstance(engine, services.DockerEngine)
        services.ensure_base_image(engine)
        self.emit(self._lane("docker", index), f"builder {index}'s own engine at {engine.host} "
                  f"(base image {services.BASE_IMAGE} loaded, as its AMI would have it)")
        return engine

    def write_agent_settings(self, text: str | None = None) -> None:
        """(Re)write every builder's settings file; ``text`` replaces the rendered one (a broken file, by hand)."""
        for index, instance_id in enumerate(self.builder_instance_ids(), 1):
            self._write_settings(self._builder_home(index), instance_id, text)

    def _write_settings(self, home: Path, instance_id: str, text: str | None = None) -> None:
        rendered = agent_config.render(self.outputs, self.pipelines, dict(self.bare), self.registry.address,
                                       home / "builder-cache", idle_grace_seconds=self.idle_grace_seconds,
                                       visibility_timeout_seconds=self.visibility_timeout_seconds,
                                       wait_timeout_seconds=self.wait_timeout_seconds,
                                       source_settings=self.source_settings, instance_id=instance_id,
                                       build_args=self.build_args)
        (home / "agent.toml").write_text(rendered if text is None else text)

    def _lane(self, stage: str, index: int) -> str:
        """A builder's own narration lane in a pool (``builder#2``); in a pool of one, the stage as it was."""
        return stage if self.pool_size == 1 else f"{stage}#{index}"

    # ------------------------------------------------------------ narration

    def emit(self, stage: str, text: str, data: dict[str, Any] | None = None, at: float | None = None) -> RigEvent:
        """Record an event that happened ``at`` (default: now, for what the rig itself does)."""
        now = time.time()
        event = RigEvent(now if at is None else at, stage, text, data or {}, seen=now)
        with self._events_lock:
            bisect.insort(self.events, event, key=lambda e: e.time)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def in_flight_since(self) -> float | None:
        """When the earliest action of the rig's still under way began (a `git push`: its event is recorded when
        it returns, stamped with its start), or None: a narrator holds later events until then."""
        with self._events_lock:
            return min(self._in_flight.values(), default=None)

    def _on_slack(self, payload: dict[str, Any], at: float) -> None:
        message = render_message(payload)
        first = message.splitlines()[:1]
        self.emit("slack", f"notification received: {first[0] if first else json.dumps(payload)[:100]}",
                  {"message": message}, at=at)

    def _on_builder(self, kind: str, data: dict[str, Any]) -> None:
        self.emit(self._lane("ec2", data.get("builder", 1)), _builder_text(kind, data), data, at=data.get("at"))

    def _narrate(self) -> None:
        while not self._closing.wait(0.1):
            self.poll_journal()
            self._poll_agent_logs()

    def poll_journal(self) -> None:
        with self._events_lock:
            if not self.journal.exists():
                return
            with open(self.journal, encoding="utf-8") as src:
                src.seek(self._journal_offset)
                chunk = src.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            self._journal_offset += len(complete.encode())
        for line in complete.splitlines():
            self._journal_record(json.loads(line))

    def _journal_record(self, rec: dict[str, Any]) -> None:
        kind, fn = rec["kind"], rec.get("function", "")
        if kind == "sns":
            self._sns_record(rec)
            return
        if kind == "sqs":
            self._sqs_record(rec)
            return
        if kind == "invoke":
            retry = f" (retry {rec['attempt'] - 1})" if rec.get("attempt", 1) > 1 else ""
            text = f"invoked by {rec.get('trigger')}{retry}"
        elif kind == "result":
            text = f"returned in {rec['seconds']}s: {json.dumps(rec.get('result'))[:160]}"
        elif kind == "error":
            again = "will retry" if rec.get("will_retry") else "giving up"
            text = f"FAILED attempt {rec['attempt']} ({again}): {rec['error']}"
        elif kind == "reject":
            fn, text = "", f"rejected: {rec.get('error')}"
        elif kind == "sqs-left":
            text = (f"batch of {len(rec['message_ids'])} left in {_queue_name(rec['queue'])} until its visibility "
                    "timeout")
        else:
            return
        self.emit(f"lambda:{fn}" if fn else "lambda", text, rec, at=rec["time"])

    def _sns_record(self, rec: dict[str, Any]) -> None:
        topic = _topic_name(rec["topic"])
        at = _sns_time(rec.get("published")) or rec["time"]
        message = rec.get("message") or ""
        if rec["topic"] == self.outputs.get("CLOSE_TOPIC_ARN"):
            try:
                parsed = parse_close_message(message)
            except ContractError as exc:
                parsed = exc
            with self._events_lock:
                self._close_messages.append((rec["time"], parsed))
            result = {"outcome": parsed.outcome, "commit": parsed.commit} if isinstance(parsed, BuildResult) else {}
            self.emit("sns", f"{topic}: {_describe_close(parsed)} -> {', '.join(rec['functions'])}",
                      dict(rec, **result), at=at)
        else:
            self.emit("sns", f"{topic}: {_describe_request(message)} -> {', '.join(rec['functions'])}", rec, at=at)

    def _sqs_record(self, rec: dict[str, Any]) -> None:
        """A batch an SQS event source took for its function. Bodies that are SNS envelopes (the wake queue's:
        the request topic's messages) are narrated as that topic's messages, at their publish time."""
        queue = _queue_name(rec["queue"])
        counts = rec.get("receive_counts") or [1]
        again = f", receive {max(counts)}" if max(counts) > 1 else ""
        self.emit("sqs", f"{queue}: {len(rec['message_ids'])} messages -> {rec['function']}{again}", rec,
                  at=rec["time"])
        for body, count in zip(rec.get("bodies", []), counts, strict=False):
            envelope = _sns_envelope(body)
            if envelope is not None and count == 1:  # its first delivery; a receive again is narrated above
                self._sns_record({"time": rec["time"], "topic": envelope.get("TopicArn", ""),
                                  "message": envelope.get("Message"), "published": envelope.get("Timestamp"),
                                  "functions": [f"{queue} -> {rec['function']}"]})

    def _poll_agent_logs(self) -> None:
        for index, machine in enumerate(list(self.builders), 1):
            for boot in list(machine.boots):
                self._poll_agent_log(index, boot)

    def _poll_agent_log(self, index: int, boot: Any) -> None:
        path = boot.log_path
        if not path.exists():
            return
        offset = self._agent_offsets.get(path, 0)
        with open(path, "rb") as src:
            src.seek(offset)
            chunk = src.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._agent_offsets[path] = offset + len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.strip():
                self._agent_line(index, boot, line.strip())

    def _agent_line(self, index: int, boot: Any, line: str) -> None:
        """A step line carries its UTC time; any other line (a tool's output, a traceback) came after the
        boot's last stamped line, so it takes that time, or the boot's start before any."""
        at, text = read_stamp(line)
        if at is None:
            at = self._agent_last.get((index, boot.number), boot.started)
        self._agent_last[(index, boot.number)] = at
        self.emit(self._lane("builder", index), text, {"boot": boot.number, "builder": index}, at=at)

    # ------------------------------------------------------------ actions

    def git(self, work: Path, *args: str) -> str:
        env = dict(os.environ, GIT_AUTHOR_NAME="Demo Developer", GIT_AUTHOR_EMAIL="dev@example.com",
                   GIT_COMMITTER_NAME="Demo Developer", GIT_COMMITTER_EMAIL="dev@example.com",
                   GIT_PUSHER="demo-developer", **self.git_env.get(work, {}))
        done = subprocess.run(["git", "-C", str(work), *args], capture_output=True, text=True, env=env, timeout=120)
        if done.returncode != 0:
            raise RigError(f"git {' '.join(args)} failed in {work}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    def commit(self, repository: str, message: str, files: dict[str, str | None] | None = None) -> str:
        """Commit in the working clone; ``files`` maps path -> content (None deletes); no files = empty."""
        work = self.work[repository]
        for rel, content in (files or {}).items():
            path = work / rel
            if content is None:
                self.git(work, "rm", "--quiet", "--", rel)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
                self.git(work, "add", "--", rel)
        self.git(work, "commit", "--quiet", "--allow-empty", "-m", message)
        return self.git(work, "rev-parse", "HEAD")

    def push(self, repository: str, branch: str = "production") -> str:
        """A real ``git push`` to the CodeCommit stand-in (its hook fires the trigger), or to the hosted provider
        the repository moved to (its hook sends the provider's webhook)."""
        work = self.work[repository]
        sha = self.git(work, "rev-parse", "HEAD")
        began = time.time()  # the push lands, and its hook fires, while `git push` runs: stamped at its start
        token = next(self._actions)
        with self._events_lock:
            self._in_flight[token] = began
        try:
            self.git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
            self.emit(self.hosts.get(repository, "codecommit"), f"pushed {repository}@{branch} {sha[:12]}",
                      {"commit": sha, "repository": repository, "push_seconds": round(time.time() - began, 3)},
                      at=began)
        finally:  # only once its event is in: a narrator holding events back can let them go
            with self._events_lock:
                self._in_flight.pop(token, None)
        return sha

    def stop_registry(self) -> None:
        """The registry goes down (its process stops; the address stays reserved for its return)."""
        self.registry.stop()
        self.emit("ecr", f"registry at {self.registry.address} DOWN (process stopped)")

    def start_registry_again(self) -> None:
        """The registry comes back on the same address with the same storage."""
        self.registry = self._parts.replace(self.registry, services.restart_registry(self.registry))
        self.emit("ecr", f"registry at {self.registry.address} back up")

    # ------------------------------------------------------------ observations

    def build_results(self, since: float = 0) -> list[BuildResult]:
        self.poll_journal()
        with self._events_lock:
            return [m for t, m in self._close_messages if t >= since and isinstance(m, BuildResult)]

    def end_of_runs(self, since: float = 0) -> list[EndOfRun]:
        self.poll_journal()
        with self._events_lock:
            return [m for t, m in self._close_messages if t >= since and isinstance(m, EndOfRun)]

    def alerts(self, since: float = 0) -> list[Alert]:
        self.poll_journal()
        with self._events_lock:
            return [m for t, m in self._close_messages if t >= since and isinstance(m, Alert)]

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message a queue holds now, read without consuming it (each is received once, visibility
        kept short, then made visible again; receive counts go up as on SQS)."""
        sqs = self.client("sqs")
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(10):
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                        MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
            if not batch:
                break
            for message in batch:
                seen.setdefault(message["MessageId"], message)
        if seen:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                       for n, m in enumerate(seen.values())]
            for start in range(0, len(entries), 10):
                sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries[start:start + 10])
        return list(seen.values())

    def queue_counts(self, queue_url: str) -> int:
        """Messages a queue holds (waiting, in flight or delayed)."""
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(value) for value in attrs.values())

    def notifications(self, since: float = 0) -> list[dict[str, Any]]:
        return [payload for at, payload in self.slack.records() if at >= since]

    def builder_states(self) -> dict[str, str]:
        """Each pool instance's state, by instance id (one DescribeInstances)."""
        ids = self.builder_instance_ids()
        found = self.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        states = {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}
        return {instance_id: states[instance_id] for instance_id in ids}

    def builder_state(self) -> str:
        """The pool's state, read as one builder's: the state they all share, else the liveliest one's
        (running > pending > stopping > ...), so ``== "stopped"`` means every builder is stopped."""
        if self.pool_size == 1:
            return instance_state(self.client("ec2"), self.builder_instance_ids()[0])
        states = set(self.builder_states().values())
        return min(states, key=lambda state: LIVELINESS.index(state) if state in LIVELINESS else len(LIVELINESS))

    def queue_depth(self) -> int:
        return queue_depth(self.client("sqs"), self.outputs["BUILD_QUEUE_URL"])

    def queue_waiting(self) -> int:
        """Requests visible in the build queue now (a dead agent's come back after their visibility timeout)."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.outputs["BUILD_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def service_task_definition(self, spec: PipelineSpec) -> str:
        service = self.client("ecs").describe_services(cluster=spec.cluster, services=[spec.service])["services"][0]
        return service["taskDefinition"]

    def service_revision(self, spec: PipelineSpec) -> int:
        return parse_task_definition(self.service_task_definition(spec)).revision

    def service_image(self, spec: PipelineSpec) -> str:
        arn = self.service_task_definition(spec)
        task = self.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return next(c["image"] for c in task["containerDefinitions"] if c["name"] == spec.container)

    def tags(self, spec: PipelineSpec) -> list[str]:
        return self.registry.tags(spec.image_repository)

    def agent_running(self) -> bool:
        """An agent process runs on some builder."""
        return any(machine.current() is not None for machine in self.builders)

    def freeze_when(self, matches: Callable[[str], bool], timeout: float) -> tuple[BuilderMachine, Any]:
        """Freeze the agent of whichever builder first prints a matching line (the one serving that pipeline
        then): see BuilderMachine.freeze_when. ``thaw`` takes what this returns."""
        return self._signal_when(matches, timeout, signal.SIGSTOP)

    def kill_when(self, matches: Callable[[str], bool], timeout: float) -> tuple[BuilderMachine, Any]:
        """SIGKILL the agent of whichever builder first prints a matching line: see BuilderMachine.kill_when."""
        return self._signal_when(matches, timeout, signal.SIGKILL)

    def thaw(self, frozen: tuple[BuilderMachine, Any]) -> None:
        machine, boot = frozen
        machine.thaw(boot)

    def _signal_when(self, matches: Callable[[str], bool], timeout: float,
                     signum: signal.Signals) -> tuple[BuilderMachine, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for machine in self.builders:
                boot = machine.signal_if(matches, signum)
                if boot is not None:
                    return machine, boot
            time.sleep(0.005)
        raise TimeoutError(f"no builder's agent output line matched within {timeout:.0f}s")

    def quiet(self) -> bool:
        """Nothing left in flight: builder stopped, no agent, queue empty, no Lambda invocation pending."""
        return (self.builder_state() == "stopped" and not self.agent_running() and self.queue_depth() == 0
                and self.lambda_idle())

    def wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check``; on timeout raise with the tail of the logs that explain why."""
        try:
            services.wait_until(check, timeout, what, interval=0.1)
        except services.ServiceError as exc:
            tail = "\n".join(f"  {e.stage}: {e.text}" for e in self.events[-25:])
            raise RigError(f"{exc}\nlast events:\n{tail}") from exc

    def wait_quiet(self, timeout: float = 300) -> None:
        self.wait(self.quiet, timeout, "the pipeline to settle (builder stopped, queue empty, no invocation)")

    def builder_seconds(self) -> float:
        """Instance time the pool has used so far: each builder's pending + running time, summed."""
        return sum(machine.running_seconds() for machine in self.builders)

    def agent_log(self) -> str:
        """Every builder's agent output, builder by builder."""
        return "".join(machine.log_text() for machine in self.builders)


AWS_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                            "AWS_DEFAULT_PROFILE")
LIVELINESS = ("running", "pending", "stopping", "shutting-down", "stopped", "terminated")


def _topic_name(arn: str) -> str:
    try:
        return parse_arn(arn, "sns").resource
    except ArnError:
        return arn


def _queue_name(arn: str) -> str:
    try:
        return parse_arn(arn, "sqs").resource
    except ArnError:
        return arn


def _sns_envelope(body: str) -> dict[str, Any] | None:
    """An SQS body holding an SNS notification (raw delivery off), or None."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and parsed.get("Type") == "Notification" else None


def _builder_text(kind: str, data: dict[str, Any]) -> str:
    """The narration of one of the builder watch's events (localrig.builder)."""
    if kind == "instance-state":
        return f"builder {data['instance']} {data['from']} -> {data['to']}"
    if kind == "agent-started":
        return f"builder booted: agent run started (boot {data['boot']}, pid {data['pid']})"
    if kind == "agent-ended":
        return f"agent process ended (boot {data['boot']}, exit {data['exit_code']}: {data['why']})"
    if kind == "agent-frozen":
        return f"builder frozen mid-build (SIGSTOP, boot {data['boot']}) while the next pushes land"
    if kind == "agent-thawed":
        return f"builder resumed (SIGCONT, boot {data['boot']})"
    if kind == "agent-killed":
        return f"agent killed mid-build (SIGKILL, boot {data['boot']}); the machine keeps running"
    if kind == "stop-hook":
        return (f"systemd: agent ended ({data['SERVICE_RESULT']}, status {data['EXIT_STATUS']}), not restarted "
                f"(Restart=no); ExecStopPost end-of-run --if-service-failed exited {data['exit_code']}")
    return f"builder watch: {data}"


def _sns_time(stamp: str | None) -> float | None:
    """SNS's ``Timestamp`` (``2026-11-29T23:04:05.123Z``) as epoch seconds; None if absent or unreadable."""
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None


def _describe_request(message: str) -> str:
    try:
        request = parse_build_request(message)
    except ContractError as exc:
        return f"unreadable request ({exc}): {message[:80]}"
    return f"build request {request.pipeline or 'all pipelines'} {(request.commit or '-')[:12]} ({request.source})"


def _describe_close(message: Any) -> str:
    if isinstance(message, BuildResult):
        commit = (message.commit or "-")[:12]
        image = message.image.tag if message.image else "-"
        return f"build result {message.pipeline} {commit} {message.outcome} image={image}"
    if isinstance(message, EndOfRun):
        exited = ", agent exited" if message.agent_exited else ""
        return f"end of run from {message.builder_instance_id} ({message.reason}{exited})"
    if isinstance(message, Alert):
        return f"alert {message.kind}: {message.summary}"
    return f"unreadable message: {message}"
