"""What counts as done, waiting or failed, on describe_services shapes ECS returns during a
rollout (reasons as in the deployment state-change events tests/fixtures/events/06*.json).
The services_stable trap: a service steady after a circuit-breaker rollback is a FAILURE."""

import pytest

from agent.ecs.api import RolloutFailed
from agent.ecs.rollout import assess
from tests.conftest import load_event

ARN = "arn:aws:ecs:us-west-2:111122223333:task-definition/web:{}"
OLD, NEW = ARN.format(5), ARN.format(6)
ROLLING_BACK = load_event("06a_ecs_deployment_state_change_IN_PROGRESS_rollback.awsdocs.json")["detail"]["reason"]
COMPLETED = load_event("06b_ecs_deployment_state_change_COMPLETED.awsdocs.json")["detail"]["reason"]
FAILED = load_event("06c_ecs_deployment_state_change_FAILED.awsdocs.json")["detail"]["reason"]


def deployment(status, task_definition, state, reason="", running=2, desired=2, failed=0):
    dep = {"id": f"ecs-svc/{task_definition[-1]}{status}", "status": status, "taskDefinition": task_definition,
           "desiredCount": desired, "runningCount": running, "pendingCount": desired - running,
           "failedTasks": failed, "rolloutState": state, "rolloutStateReason": reason}
    return {k: v for k, v in dep.items() if v is not None}


def service(*deployments, task_definition=None, status="ACTIVE"):
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    return {"serviceName": "servicetest", "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
            "status": status, "taskDefinition": task_definition or primary["taskDefinition"],
            "deployments": list(deployments)}


def test_primary_on_the_new_revision_completed_with_all_tasks_running_is_done():
    progress = assess(service(deployment("PRIMARY", NEW, "COMPLETED", COMPLETED)), NEW)
    assert progress.done
    assert progress.summary == "web:6 COMPLETED, running 2/2"


def test_in_progress_is_waiting_and_says_how_far():
    svc = service(deployment("PRIMARY", NEW, "IN_PROGRESS", running=1, failed=1),
                  deployment("ACTIVE", OLD, "COMPLETED"))
    progress = assess(svc, NEW)
    assert not progress.done
    assert progress.summary == "web:6 IN_PROGRESS, running 1/2, 1 failed task(s), 1 other deployment(s)"


def test_completed_but_not_all_running_is_not_done():
    assert not assess(service(deployment("PRIMARY", NEW, "COMPLETED", running=1)), NEW).done


def test_circuit_breaker_rolling_back_is_a_failure_at_once():
    svc = service(deployment("PRIMARY", OLD, "IN_PROGRESS", ROLLING_BACK, running=0),
                  deployment("ACTIVE", NEW, "FAILED", FAILED, running=0))
    with pytest.raises(RolloutFailed, match="circuit breaker rolled back"):
        assess(svc, NEW)


def test_stable_again_after_a_rollback_is_a_failure_not_a_success():
    svc = service(deployment("PRIMARY", OLD, "COMPLETED", "ECS deployment ecs-svc/5 completed."))
    with pytest.raises(RolloutFailed, match=r"default/servicetest: service runs web:5 .* not web:6"):
        assess(svc, NEW)


def test_a_failed_deployment_is_a_failure_with_its_reason():
    with pytest.raises(RolloutFailed, match="web:6 FAILED: ECS deployment circuit breaker: task failed to start"):
        assess(service(deployment("PRIMARY", NEW, "FAILED", FAILED, running=0)), NEW)


def test_someone_else_deploying_another_revision_is_a_failure():
    svc = service(deployment("PRIMARY", ARN.format(7), "IN_PROGRESS"), deployment("ACTIVE", NEW, "COMPLETED"))
    with pytest.raises(RolloutFailed, match="runs web:7"):
        assess(svc, NEW)


def test_a_draining_service_is_a_failure():
    with pytest.raises(RolloutFailed, match="DRAINING"):
        assess(service(deployment("PRIMARY", NEW, "IN_PROGRESS"), status="DRAINING"), NEW)


def test_while_rolling_back_ourselves_the_breakers_rollback_to_the_same_revision_is_progress():
    svc = service(deployment("PRIMARY", OLD, "IN_PROGRESS", ROLLING_BACK, running=1),
                  deployment("ACTIVE", NEW, "FAILED", FAILED, running=0))
    assert not assess(svc, OLD, rolling_back=True).done
    done = service(deployment("PRIMARY", OLD, "COMPLETED", ROLLING_BACK))
    assert assess(done, OLD, rolling_back=True).done


def test_without_rollout_state_one_deployment_with_all_running_is_done():
    assert assess(service(deployment("PRIMARY", NEW, None)), NEW).done
    two = service(deployment("PRIMARY", NEW, None), deployment("ACTIVE", OLD, None, running=0))
    assert not assess(two, NEW).done


def test_a_stale_rollback_reason_on_an_older_draining_deployment_is_not_this_rollouts_failure():
    svc = service(deployment("PRIMARY", NEW, "IN_PROGRESS", running=1),
                  deployment("ACTIVE", OLD, "COMPLETED", ROLLING_BACK))
    assert not assess(svc, NEW).done


def test_a_service_whose_primary_deployment_runs_another_revision_is_a_failure_whatever_its_task_definition_says():
    """The top-level taskDefinition is the one asked for, but the PRIMARY deployment (what tasks are being
    started from) runs another revision: the rollout did not end on ours."""
    svc = service(deployment("PRIMARY", OLD, "COMPLETED"), deployment("ACTIVE", NEW, "COMPLETED"),
                  task_definition=NEW)
    with pytest.raises(RolloutFailed, match=r"service runs web:6 \(PRIMARY deployment web:5\), not web:6"):
        assess(svc, NEW)
