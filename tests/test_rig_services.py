"""The real parts start and answer: the foundation every other test stands on."""

import subprocess
import sys

import boto3
import pytest

from localrig import services


def test_moto_server_serves_boto3_clients(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    assert url.endswith("/q")


def test_moto_ecs_update_service_starts_a_new_primary_deployment(aws):
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="c")
    td1 = ecs.register_task_definition(family="f", containerDefinitions=[{"name": "a", "image": "x:1", "memory": 64}])
    td2 = ecs.register_task_definition(family="f", containerDefinitions=[{"name": "a", "image": "x:2", "memory": 64}])
    arn1 = td1["taskDefinition"]["taskDefinitionArn"]
    arn2 = td2["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=arn1, desiredCount=1)
    ecs.update_service(cluster="c", service="s", taskDefinition=arn2)
    svc = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    primary = [d for d in svc["deployments"] if d["status"] == "PRIMARY"]
    assert [d["taskDefinition"] for d in primary] == [arn2]
    assert primary[0]["rolloutState"] == "COMPLETED"


def test_docker_engine_builds_from_the_local_base_image(docker_engine, base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo hi > /hello\n")
    docker_engine.docker("build", "-q", "-t", "rigtest:1", str(tmp_path))
    out = docker_engine.docker("run", "--rm", "--network", "none", "rigtest:1", "cat", "/hello")
    assert out.stdout.strip() == b"hi"


def test_registry_receives_a_push(docker_engine, base_image, registry):
    ref = f"{registry.address}/rigtest/base:v1"
    docker_engine.docker("tag", base_image, ref)
    docker_engine.docker("push", ref)
    assert registry.tags("rigtest/base") == ["v1"]


def test_wait_until_names_what_it_waited_for():
    try:
        services.wait_until(lambda: False, 0.2, "the thing")
    except services.ServiceError as exc:
        assert "the thing" in str(exc)
    else:
        raise AssertionError("wait_until returned without the condition")


SLEEPS = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]


def test_a_part_that_never_gets_ready_is_stopped_before_the_error(tmp_path):
    part = services._spawn("never-ready", SLEEPS, tmp_path / "never-ready.log")
    with pytest.raises(services.ServiceError, match="the never-ready part"):
        services.ready_or_stopped(part, lambda: False, 0.3, "the never-ready part")
    assert not part.alive()


class _StuckPart(services.Process):
    def stop(self, timeout: float = 10) -> None:
        raise OSError("cannot stop this one")


def test_stopping_the_rig_stops_every_part_even_when_one_fails(tmp_path):
    rig = services.Rig()
    running = rig.add(services._spawn("child", SLEEPS, tmp_path / "child.log"))
    rig.add(_StuckPart("stuck", None))  # stopped first (reverse order): its failure must not strand the child
    with pytest.raises(OSError, match="cannot stop this one"):
        rig.stop()
    assert not running.alive()


def test_no_engine_names_docker_s_reason_and_how_to_start_docker():
    problem = services.docker_problem("unix:///nonexistent/docker.sock")
    assert "/nonexistent/docker.sock" in problem
    message = services.no_engine_message(problem, is_root=False, dockerd_installed=True, client_installed=True)
    assert problem in message and "sudo systemctl start docker" in message and "DOCKER_HOST" in message


def test_no_engine_says_what_to_do_for_a_missing_client_or_a_socket_the_user_may_not_use():
    missing = services.no_engine_message("the docker client is not installed", False, False, False)
    assert "install Docker" in missing
    denied = services.no_engine_message("permission denied while trying to connect to the Docker daemon socket",
                                        is_root=False, dockerd_installed=True, client_installed=True)
    assert "docker group" in denied


def test_an_engine_found_through_the_current_docker_context_is_used_at_its_own_address(
        docker_engine, tmp_path, monkeypatch):
    """Docker Desktop and rootless Docker are reached through a CLI context, not /var/run/docker.sock."""
    config = tmp_path / "docker-config"
    env = {"DOCKER_CONFIG": str(config), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    create = ["context", "create", "laptop", "--docker", f"host={docker_engine.host}"]
    for args in (create, ["context", "use", "laptop"]):
        subprocess.run(["docker", *args], env=env, check=True, capture_output=True, timeout=30)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    found = services.find_or_start_docker(tmp_path / "unused")

    assert found.host == docker_engine.host
    assert found.popen is None, "the user's engine is used, not a new one"


# A part that ignores SIGTERM and has started a child that ignores it too (dockerd and its containerd).
HANGS_WITH_A_CHILD = [sys.executable, "-c", (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "code = 'import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nwhile True: time.sleep(1)'\n"
    "child = subprocess.Popen([sys.executable, '-c', code])\n"
    "print(child.pid, flush=True)\n"
    "while True: time.sleep(1)\n")]


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for whoever reaps orphans here."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_part_that_ignores_sigterm_is_killed_with_everything_it_started(tmp_path):
    part = services._spawn("stubborn", HANGS_WITH_A_CHILD, tmp_path / "stubborn.log")
    services.wait_until(lambda: part.log_tail().strip().isdigit(), 30, "the part to start its child")
    child = int(part.log_tail().strip())

    part.stop(timeout=0.5)

    assert not part.alive()
    services.wait_until(lambda: _gone(child), 10, f"the part's child {child} to be killed too")
