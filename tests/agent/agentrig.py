"""Real parts for the agent's tests: git repositories (a bare repo stands in for CodeCommit), an
AWS account on moto server (queue, topics, ECR repository, ECS service), the settings file.

Plain helpers rather than conftest fixtures, so each test module shows which parts it uses.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chalicelib.builders.heartbeat import TAG_KEY, AgentBeat, parse_beat
from chalicelib.contracts import (
    DEAD_LETTER_REASON_ATTRIBUTE,
    BuildRequest,
    CloseMessage,
    parse_close_message,
    utc_now,
)
from chalicelib.fifo import EVERY_PIPELINE_GROUP, message_group_id

BRANCH = "production"
BASE_IMAGE = "local/busybox:latest"  # made by the base_image session fixture
REPOSITORY = "sample"


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Dev One", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev One",
           "GIT_COMMITTER_EMAIL": "dev@example.com", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout.strip()


@dataclass
class AppRepo:
    """A developer's working copy pushing to a bare "CodeCommit" repository."""

    work: Path
    bare: Path

    def commit(self, files: dict[str, str], message: str, branch: str = BRANCH) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "--force", "origin", f"HEAD:refs/heads/{branch}")
        return git(self.work, "rev-parse", "HEAD")


def dockerfile(base_image: str, marker: str = "v1") -> str:
    return (f"FROM {base_image}\nARG environment=dev\nRUN echo \"$environment\" > /environment\n"
            f"COPY app.txt /app.txt\nLABEL pushdeploy.test={marker}\n")


def make_repo(tmp: Path, base_image: str = BASE_IMAGE, app_text: str = "hello v1\n") -> AppRepo:
    bare, work = tmp / "codecommit" / "sample.git", tmp / "dev"
    bare.mkdir(parents=True)
    work.mkdir()
    git(bare, "init", "-q", "--bare")
    git(work, "init", "-q")
    git(work, "remote", "add", "origin", str(bare))
    repo = AppRepo(work, bare)
    repo.commit({"Dockerfile": dockerfile(base_image), "app.txt": app_text}, "first version")
    return repo


@dataclass
class World:
    """One moto account set up like production: build queue (+DLQ), close topic, ECR, ECS."""

    session: boto3.Session
    registry: str
    image_repository: str
    queue_url: str = ""
    dlq_url: str = ""
    close_topic_arn: str = ""
    results_url: str = ""
    cluster: str = "production-cluster"
    service: str = "web"
    initial_image: str = ""
    initial_revision: str = ""
    clients: dict[str, Any] = field(default_factory=dict)
    fifo: bool = False  # the build queue (and its DLQ) are FIFO queues: a pool's request path

    def client(self, name: str) -> Any:
        if name not in self.clients:
            self.clients[name] = self.session.client(name)
        return self.clients[name]

    def send(self, repository: str = REPOSITORY, branch: str = BRANCH, commit: str | None = None,
             envelope: bool = True, body: str | None = None) -> str:
        """A request as the request topic delivers it (SNS envelope), or a raw body. On a FIFO queue the group is
        the pipeline (a body naming none: the every-pipeline group), as the FIFO request topic sets it."""
        if body is None:
            event_id = str(uuid.uuid4())
            body = BuildRequest(repository, branch, commit, "codecommit-trigger", event_id, utc_now()).to_json()
            if envelope:
                body = json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()),
                                   "TopicArn": "arn:aws:sns:us-east-1:123456789012:request", "Message": body})
            return self._send(body, f"{repository}/{branch}")
        return self._send(body, EVERY_PIPELINE_GROUP)

    def send_request(self, request: BuildRequest) -> str:
        """Any request (a manual build, a rollback) as the request topic delivers it."""
        body = json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()),
                           "TopicArn": "arn:aws:sns:us-east-1:123456789012:request", "Message": request.to_json()})
        return self._send(body, message_group_id(request))

    def _send(self, body: str, group: str) -> str:
        fifo = {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex} if self.fifo else {}
        return self.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body, **fifo)["MessageId"]

    def close_messages(self) -> list[CloseMessage]:
        """Everything published to the close topic so far (read through its SQS subscription)."""
        sqs, found = self.client("sqs"), []
        while True:
            batch = sqs.receive_message(QueueUrl=self.results_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(parse_close_message(message["Body"]))
                sqs.delete_message(QueueUrl=self.results_url, ReceiptHandle=message["ReceiptHandle"])

    def dead_letters(self) -> list[tuple[str, str | None]]:
        """(body, pushdeploy-reason attribute) of every message in the dead-letter queue, taken out of it."""
        sqs, found = self.client("sqs"), []
        while True:
            batch = sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                reason = message.get("MessageAttributes", {}).get(DEAD_LETTER_REASON_ATTRIBUTE, {})
                found.append((message["Body"], reason.get("StringValue")))
                sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])

    def queue_depth(self) -> int:
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def visible(self) -> int:
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def service_task_definition(self) -> dict[str, Any]:
        ecs = self.client("ecs")
        arn = ecs.describe_services(cluster=self.cluster, services=[self.service])["services"][0]["taskDefinition"]
        return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]


def make_world(session: boto3.Session, registry: str, visibility: int = 30, fifo: bool = False) -> World:
    """``fifo``: the build queue and its DLQ are FIFO queues (``pushdeploy-build.fifo``), as for a pool."""
    world = World(session, registry, f"t{uuid.uuid4().hex[:10]}/sample", fifo=fifo)
    sqs, sns = world.client("sqs"), world.client("sns")
    suffix, fifo_attributes = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
    world.dlq_url = sqs.create_queue(QueueName=f"pushdeploy-build-dlq{suffix}", Attributes=fifo_attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.queue_url = sqs.create_queue(QueueName=f"pushdeploy-build{suffix}", Attributes={
        "VisibilityTimeout": str(visibility), **fifo_attributes,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    world.close_topic_arn = sns.create_topic(Name="pushdeploy-close")["TopicArn"]
    world.results_url = sqs.create_queue(QueueName="close-listener")["QueueUrl"]
    results_arn = sqs.get_queue_attributes(QueueUrl=world.results_url,
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=world.close_topic_arn, Protocol="sqs", Endpoint=results_arn,
                  Attributes={"RawMessageDelivery": "true"})
    world.client("ecr").create_repository(repositoryName=world.image_repository)
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName=world.cluster)
    world.initial_image = f"{registry}/{world.image_repository}:initial"
    td = ecs.register_task_definition(
        family="production-task", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[
            {"name": "app", "image": world.initial_image, "essential": True},
            {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
             "essential": False}],
        tags=[{"key": "team", "value": "web"}])
    world.initial_revision = td["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=world.cluster, serviceName=world.service, taskDefinition=world.initial_revision,
                       desiredCount=1)
    return world


def write_config(path: Path, world: World, repo: AppRepo, cache_dir: Path, *, grace: int = 0,
                 visibility: int = 30, extra_pipelines: str = "", deploy: bool = True) -> Path:
    deploy_block = (f'\n[[pipelines.deploy]]\ncluster = "{world.cluster}"\nservices = ["{world.service}"]\n'
                    if deploy else "")
    path.write_text(f"""
[agent]
region = "us-east-1"
queue_url = "{world.queue_url}"
close_topic_arn = "{world.close_topic_arn}"
log_group = "/pushdeploy/builds"
cache_dir = "{cache_dir}"
idle_grace_seconds = {grace}
instance_id = "i-0123456789abcdef0"
visibility_timeout_seconds = {visibility}

[[pipelines]]
repository = "{REPOSITORY}"
branch = "{BRANCH}"
source_url = "{repo.bare}"
build_args = {{ environment = "production" }}
image_repository = "{world.image_repository}"
registry = "{world.registry}"
wait_timeout_seconds = 60
keep_revisions = 5
{deploy_block}{extra_pipelines}""")
    return path


def builder_instance(ec2: Any) -> str:
    """A builder instance in moto, for the heartbeat tag."""
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return str(ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"])


def beat_of(ec2: Any, instance: str) -> AgentBeat | None:
    """The agent's heartbeat as the reconcile reads it from the instance's tag."""
    tags = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0].get("Tags", [])
    return parse_beat(next((t["Value"] for t in tags if t["Key"] == TAG_KEY), None))


def state_of(ec2: Any, instance: str) -> str | None:
    beat = beat_of(ec2, instance)
    return beat.state if beat else None


def pipeline_block(world: World, repository: str, source_url: Path | str) -> str:
    """Another [[pipelines]] entry for ``write_config(extra_pipelines=...)`` (branch BRANCH, no deploy)."""
    return (f'\n[[pipelines]]\nrepository = "{repository}"\nbranch = "{BRANCH}"\nsource_url = "{source_url}"\n'
            f'image_repository = "{world.image_repository}"\nregistry = "{world.registry}"\n')


def log_lines(session: boto3.Session, group: str, stream: str) -> list[str]:
    events = session.client("logs").get_log_events(logGroupName=group, logStreamName=stream,
                                                   startFromHead=True)["events"]
    return [e["message"] for e in events]


def agent_context(config_path: Path, lines: list[str] | None = None, clock: Any = None) -> Any:
    """The context the CLI builds, with progress lines captured (and still readable in -s output); ``clock``
    stands for the builds' start time."""
    from agent.aws import make_clients
    from agent.builder import BuildContext
    from agent.config import load_config
    from agent.progress import Progress

    def out(line: str) -> None:
        print(line)
        if lines is not None:
            lines.append(line)

    config = load_config(config_path)
    context = BuildContext(config, make_clients(config.agent.region), Progress(out=out),
                           instance_id=config.agent.instance_id or None)
    if clock is not None:
        context.clock = clock
    return context


def use_docker(monkeypatch: Any, engine: Any, tmp: Path) -> Path:
    """Point the agent's docker CLI at the test engine, with its own client config (login state)."""
    config_dir = tmp / "docker-config"
    config_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    return config_dir


def docker_pipeline(session: boto3.Session, engine: Any, base_image: str, registry: str, tmp: Path,
                    monkeypatch: Any, fifo: bool = False) -> tuple[AppRepo, World, Path]:
    """The usual docker-backed story: the app repository, its AWS world and the agent's settings file."""
    use_docker(monkeypatch, engine, tmp)
    repo = make_repo(tmp, base_image)
    world = make_world(session, registry, fifo=fifo)
    return repo, world, write_config(tmp / "agent.toml", world, repo, tmp / "cache")


def api_request(action: str = "build", *, commit: str | None = None, force: bool = False, pin: bool = False,
                to: str | None = None, by: str = "arn:aws:iam::123456789012:user/alice") -> BuildRequest:
    """A request as POST /pipelines/{id}/builds or /rollback publishes it."""
    return BuildRequest(REPOSITORY, BRANCH, commit, "api", str(uuid.uuid4()), utc_now(), pushed_by=by,
                        action=action, trigger="manual", force=force, pin=pin, rollback_to=to)


def deployed_pipeline(session: boto3.Session, engine: Any, base_image: str, registry: str, tmp: Path,
                      monkeypatch: Any, clock: Any = None) -> tuple[World, Path, str]:
    """``docker_pipeline`` with its head built and deployed once by ``run``: (world, settings file, revision)."""
    from agent.runner import Runner

    _, world, config = docker_pipeline(session, engine, base_image, registry, tmp, monkeypatch)
    world.send()
    Runner(agent_context(config, clock=clock)).run(exit_when_idle=True)
    [first, _] = world.close_messages()
    assert first.outcome == "succeeded", first.error
    return world, config, world.service_task_definition()["taskDefinitionArn"]
