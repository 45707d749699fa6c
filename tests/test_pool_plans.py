"""The pool's rules as pure functions of one DescribeInstances answer, the heartbeats and the queue depth: never
more builders than the pool, never a start for a pipeline a busy builder already builds, and with one builder the
very verdicts the single-builder functions gave (their logic is restated below as the oracle)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.builders.build_queue import QueueDepth
from chalicelib.builders.heartbeat import TAG_KEY, make_beat
from chalicelib.builders.instance import RUNNING, Instance
from chalicelib.builders.pool import (
    CLAIM_TAG_KEY,
    claim_value,
    is_busy,
    plan_close,
    plan_reconcile,
    plan_start,
    refusal,
    running_verdict,
    serving,
)

TAG = ("pushdeploy:role", "builder")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
IDLE = 15 * 60
IDS = [f"i-000000000000000{n}" for n in range(1, 5)]
STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
GROUPS = ("sample/production", "octo/app/main", "billing/main", "p-" + "a" * 40, "pushdeploy-every-pipeline")

beats = st.one_of(
    st.none(),
    st.builds(lambda state, since, ago, group: make_beat(state, NOW - timedelta(minutes=since),
                                                         NOW - timedelta(minutes=ago),
                                                         group if state == "busy" else None).tag_value(),
              st.sampled_from(("starting", "idle", "busy")), st.integers(0, 300), st.integers(-10, 120),
              st.one_of(st.none(), st.sampled_from(GROUPS))),
    st.text(max_size=20))


@st.composite
def builders(draw, instance_id: str) -> Instance:
    tags = {}
    if draw(st.booleans()) or draw(st.booleans()):  # mostly tagged
        tags[TAG[0]] = TAG[1]
    beat = draw(beats)
    if beat is not None:
        tags[TAG_KEY] = beat
    launched = draw(st.one_of(st.none(), st.integers(0, 600).map(lambda m: NOW - timedelta(minutes=m))))
    return Instance(instance_id, draw(st.sampled_from(STATES)), tags, launched)


@st.composite
def pools(draw, min_size: int = 1, max_size: int = 4) -> list[Instance]:
    size = draw(st.integers(min_size, max_size))
    return [draw(builders(IDS[n])) for n in range(size)]


depths = st.builds(QueueDepth, st.integers(0, 5), st.integers(0, 5), st.integers(0, 3))
group_sets = st.sets(st.sampled_from(GROUPS), min_size=1, max_size=5)


def beat_tag(state: str, group: str | None = None, minutes_ago: int = 1) -> dict[str, str]:
    value = make_beat(state, NOW - timedelta(minutes=minutes_ago), NOW, group).tag_value()
    return {TAG[0]: TAG[1], TAG_KEY: value}


# ---------------------------------------------------------------- build_start


@given(pools(), group_sets)
def test_build_start_never_runs_more_builders_than_the_pool_and_starts_only_stopped_members(instances, groups):
    ids = [i.instance_id for i in instances]
    plan = plan_start(instances, ids, TAG, groups)
    running = sum(1 for i in instances if i.state in RUNNING)
    assert running + len(plan.start) <= len(instances)
    assert len(plan.start) <= len(groups)
    by_id = {i.instance_id: i for i in instances}
    for instance_id in plan.start:
        assert by_id[instance_id].state == "stopped" and by_id[instance_id].tags.get(TAG[0]) == TAG[1]


@given(pools(max_size=3))
def test_build_start_never_starts_a_builder_for_groups_busy_builders_already_build(instances):
    instances = [*instances, Instance(IDS[3], "stopped", {TAG[0]: TAG[1]})]  # one it could start
    ids = [i.instance_id for i in instances]
    served = {serving(i) for i in instances if refusal(i, ids, TAG) is None} - {None}
    if served:
        plan = plan_start(instances, ids, TAG, served)
        assert plan.start == () and not plan.retry and plan.verdict == "already-running"


def test_build_start_starts_one_builder_per_unserved_group_beyond_idle_ones():
    pool = [Instance(IDS[0], "running", beat_tag("busy", "sample/production"), NOW),
            Instance(IDS[1], "running", beat_tag("idle"), NOW),
            Instance(IDS[2], "stopped", {TAG[0]: TAG[1]}),
            Instance(IDS[3], "stopped", {TAG[0]: TAG[1]})]
    groups = {"sample/production", "octo/app/main", "billing/main"}
    plan = plan_start(pool, IDS, TAG, groups)
    assert (plan.start, plan.verdict) == ((IDS[2],), "started")  # 2 unserved, 1 idle builder takes one


def test_build_start_retries_when_a_needed_builder_is_still_stopping():
    pool = [Instance(IDS[0], "running", beat_tag("busy", "sample/production"), NOW),
            Instance(IDS[1], "stopped", {TAG[0]: TAG[1]}),
            Instance(IDS[2], "stopping", {TAG[0]: TAG[1]})]
    plan = plan_start(pool, IDS[:3], TAG, {"octo/app/main", "billing/main"})
    assert plan.start == (IDS[1],) and plan.retry


def test_a_busy_beat_left_by_the_previous_boot_does_not_count_as_serving():
    stale = beat_tag("busy", "octo/app/main", minutes_ago=90)
    stale[TAG_KEY] = make_beat("busy", NOW - timedelta(hours=2), NOW - timedelta(hours=1), "octo/app/main").tag_value()
    pool = [Instance(IDS[0], "running", stale, NOW - timedelta(minutes=1)),  # restarted a minute ago
            Instance(IDS[1], "stopped", {TAG[0]: TAG[1]})]
    plan = plan_start(pool, IDS[:2], TAG, {"octo/app/main"})
    assert plan.start == () and plan.verdict == "already-running"  # the booting builder is capacity for it


def old_build_start(instance: Instance) -> str:
    """The single-builder build_start before the pool (Instance.start_check + its handler)."""
    if instance.tags.get(TAG[0]) != TAG[1]:
        return "refused"
    if instance.state in RUNNING:
        return "already-running"
    if instance.state == "stopping":
        return "stopping"
    if instance.state != "stopped":
        return "refused"
    return "started"


@given(builders(IDS[0]), group_sets)
def test_build_start_with_one_builder_gives_the_old_verdicts(instance, groups):
    plan = plan_start([instance], [IDS[0]], TAG, groups)
    old = old_build_start(instance)
    assert plan.verdict == old
    assert plan.retry == (old == "stopping")
    assert plan.start == ((IDS[0],) if old == "started" else ())


# ---------------------------------------------------------------- close


def old_close(instance: Instance, agent_exited: bool, depth: QueueDepth) -> str:
    if instance.tags.get(TAG[0]) != TAG[1]:
        return "refused"
    if instance.state in ("stopping", "stopped"):
        return "already-stopped"
    if agent_exited:
        return "stopped-agent-exited"
    return "stopped" if depth.empty else "queue-not-empty"


@given(builders(IDS[0]), st.booleans(), depths)
def test_close_with_one_builder_gives_the_old_verdicts(instance, agent_exited, depth):
    verdict, _ = plan_close([instance], [IDS[0]], TAG, IDS[0], agent_exited, lambda: depth)
    assert verdict == old_close(instance, agent_exited, depth)


def test_close_stops_a_builder_whose_queue_holds_only_another_running_builders_requests():
    pool = [Instance(IDS[0], "running", beat_tag("idle"), NOW),
            Instance(IDS[1], "running", beat_tag("busy", "sample/production"), NOW)]
    in_flight = QueueDepth(0, 1, 0)
    assert plan_close(pool, IDS[:2], TAG, IDS[0], False, lambda: in_flight)[0] == "stopped"
    assert plan_close(pool, IDS[:2], TAG, IDS[0], False, lambda: QueueDepth(1, 1, 0))[0] == "queue-not-empty"
    alone = [pool[0], Instance(IDS[1], "stopped", {TAG[0]: TAG[1]})]
    assert plan_close(alone, IDS[:2], TAG, IDS[0], False, lambda: in_flight)[0] == "queue-not-empty"
    assert plan_close(pool, IDS[:2], TAG, IDS[3], False, lambda: in_flight)[0] == "refused"


# ---------------------------------------------------------------- reconcile


def old_reconcile(instance: Instance, depth: QueueDepth) -> str:
    verdict = old_build_start(instance)
    if verdict in ("refused", "stopping"):
        return verdict
    if verdict == "started":
        return "queue-empty" if depth.empty else "started"
    return running_verdict(instance, depth, NOW, IDLE)[0]


@given(builders(IDS[0]), depths)
def test_reconcile_with_one_builder_gives_the_old_verdicts(instance, depth):
    plan = plan_reconcile([instance], [IDS[0]], TAG, depth, NOW, IDLE)
    assert plan.verdicts[IDS[0]][0] == old_reconcile(instance, depth)


@given(pools(), depths)
def test_reconcile_never_runs_more_than_the_pool_nor_restarts_what_it_stops(instances, depth):
    ids = [i.instance_id for i in instances]
    plan = plan_reconcile(instances, ids, TAG, depth, NOW, IDLE)
    by_id = {i.instance_id: i for i in instances}
    assert set(plan.verdicts) == set(ids)
    for instance_id in plan.ids("started"):
        assert by_id[instance_id].state == "stopped"
    kept = [i for i in instances if plan.verdicts[i.instance_id][0] == "already-running"]
    started = plan.ids("started")
    if started:
        busy = sum(1 for i in kept if is_busy(i))
        assert len(kept) + len(started) <= busy + depth.visible + depth.delayed + depth.in_flight
        assert not plan.ids("stopped-idle") or depth.visible + depth.delayed > 0


def test_reconcile_starts_one_builder_per_waiting_request_up_to_the_pool():
    pool = [Instance(i, "stopped", {TAG[0]: TAG[1]}) for i in IDS[:3]]
    plan = plan_reconcile(pool, IDS[:3], TAG, QueueDepth(2, 0, 0), NOW, IDLE)
    assert plan.ids("started") == IDS[:2] and plan.ids("not-needed") == [IDS[2]]
    plan = plan_reconcile(pool, IDS[:3], TAG, QueueDepth(7, 0, 1), NOW, IDLE)
    assert plan.ids("started") == IDS[:3]


def test_reconcile_counts_a_running_builder_that_is_not_busy_as_serving_a_waiting_request():
    pool = [Instance(IDS[0], "running", beat_tag("idle"), NOW), Instance(IDS[1], "stopped", {TAG[0]: TAG[1]}),
            Instance(IDS[2], "running", beat_tag("busy", "octo/app/main"), NOW)]
    assert plan_reconcile(pool, IDS[:3], TAG, QueueDepth(1, 1, 0), NOW, IDLE).ids("started") == []
    assert plan_reconcile(pool, IDS[:3], TAG, QueueDepth(2, 1, 0), NOW, IDLE).ids("started") == [IDS[1]]


def test_reconcile_stops_an_idle_builder_while_another_builds_what_is_in_flight():
    idle = {TAG[0]: TAG[1], TAG_KEY: make_beat("idle", NOW - timedelta(minutes=40), NOW).tag_value()}
    pool = [Instance(IDS[0], "running", idle, NOW - timedelta(hours=1)),
            Instance(IDS[1], "running", beat_tag("busy", "sample/production"), NOW - timedelta(hours=1))]
    plan = plan_reconcile(pool, IDS[:2], TAG, QueueDepth(0, 1, 0), NOW, IDLE)
    assert plan.verdicts[IDS[0]][0] == "stopped-idle" and plan.verdicts[IDS[1]][0] == "already-running"
    assert "nothing to serve" in plan.verdicts[IDS[0]][1]


def claim(group: str, minutes_ago: float = 0) -> dict[str, str]:
    return {TAG[0]: TAG[1], CLAIM_TAG_KEY: claim_value(group, NOW - timedelta(minutes=minutes_ago))}


def test_a_builder_booting_for_one_pipeline_is_no_capacity_for_the_next():
    """Pushes that trickle in while builders boot: each later batch knows what the earlier ones started."""
    pool = [Instance(IDS[0], "pending", claim("alpha/main"), NOW),
            Instance(IDS[1], "stopped", {TAG[0]: TAG[1]}), Instance(IDS[2], "stopped", {TAG[0]: TAG[1]})]
    assert plan_start(pool, IDS[:3], TAG, {"alpha/main"}).start == ()
    plan = plan_start(pool, IDS[:3], TAG, {"alpha/main", "beta/main"})
    assert (plan.start, plan.claims) == ((IDS[1],), ("beta/main",))


def test_a_claim_ends_with_the_agents_first_beat_or_an_earlier_boot():
    idle = claim("alpha/main") | {TAG_KEY: make_beat("idle", NOW, NOW).tag_value()}
    old = claim("alpha/main", minutes_ago=90)
    for tags, launched in ((idle, NOW - timedelta(minutes=1)), (old, NOW - timedelta(minutes=1))):
        pool = [Instance(IDS[0], "running", tags, launched), Instance(IDS[1], "stopped", {TAG[0]: TAG[1]})]
        assert plan_start(pool, IDS[:2], TAG, {"beta/main"}).start == (), "the builder is capacity again"
    starting = claim("alpha/main") | {TAG_KEY: make_beat("starting", NOW, NOW).tag_value()}
    pool = [Instance(IDS[0], "running", starting, NOW), Instance(IDS[1], "stopped", {TAG[0]: TAG[1]})]
    assert plan_start(pool, IDS[:2], TAG, {"beta/main"}).start == (IDS[1],), "a starting agent is still booting"


@given(pools(), group_sets)
def test_every_started_builder_is_claimed_for_a_distinct_waiting_group(instances, groups):
    plan = plan_start(instances, [i.instance_id for i in instances], TAG, groups)
    assert len(plan.claims) == len(plan.start) and len(set(plan.claims)) == len(plan.claims)
    assert set(plan.claims) <= set(groups)
