"""The real parts start and answer: the foundation every other test stands on."""

import boto3

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
