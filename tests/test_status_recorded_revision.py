"""GET /status compares what ECS runs with what pushdeploy left on each service: `after` of a succeeded build,
`before` of a rolled-back one (the deploy put it back), nothing from a failed one; a service with no record is
neither in nor out of step (drift null), and a service that is gone says MISSING."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.contracts import ServiceDeployment
from tests.api_rig import make_api_rig
from tests.history_rig import HistoryApp, env, make_table, result


def register(ecs, n: int) -> list[str]:
    return [ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "web", "image": f"127.0.0.1:5000/production/sample:20261129120000-{i:07x}", "memory": 64}])[
        "taskDefinition"]["taskDefinitionArn"] for i in range(1, n + 1)]


def moved(before: str, after: str) -> tuple[ServiceDeployment, ...]:
    return (ServiceDeployment("production-cluster", "web", before, after),)


def test_a_rolled_back_build_counts_its_before_and_a_failed_one_nothing(aws, monkeypatch, tmp_path):
    api = make_api_rig(aws)  # sample/production deploys to production-cluster: web, worker
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="production-cluster")
    revs = register(ecs, 4)
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=revs[1], desiredCount=1)
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws), **api.env()))
    deployed = replace(result(1), services=moved(revs[0], revs[1]))
    app.deliver(deployed)
    app.deliver(replace(result(2, outcome="rolled_back"), services=moved(revs[1], revs[2])))
    app.deliver(replace(result(3, outcome="failed"), services=moved(revs[1], revs[3])))

    status, body = app.get("/status")

    assert status == 200, body
    [sample, _other] = body["pipelines"]
    web, worker = sample["services"]
    assert (web["revision"], web["drift"], web["recorded"]["task_definition"]) == ("production-task:2", False, revs[1])
    assert web["image"] == "127.0.0.1:5000/production/sample:20261129120000-0000002"
    assert web["commit"] == deployed.commit, "the build that deployed this revision names the full commit"
    assert sample["last_build"]["outcome"] == "failed"
    assert (worker["rollout_state"], worker["task_definition"], worker["drift"]) == ("MISSING", None, None)
