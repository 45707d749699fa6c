"""A pool of three builders serving three pipelines pushed three times each, pushes landing while builds run:
no pipeline is ever built by two builders at overlapping times (read from the builds' own timestamps), every
push ends deployed or coalesced into a later build of its pipeline, no later commit is deployed before an
earlier one, each pipeline ends on its newest commit, and every builder ends stopped."""

from collections.abc import Iterator
from datetime import datetime
from itertools import combinations

import pytest

from chalicelib.contracts import BuildResult, parse_timestamp
from localrig import stories
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig
from tests.e2e.conftest import OTHER, SAMPLE

pytestmark = pytest.mark.e2e

THIRD = PipelineSpec(repository="third", image_repository="production/third", service="third-web",
                     family="third-task", container="web")
PIPELINES = [SAMPLE, OTHER, THIRD]
ROUNDS = 3
BUILD_SECONDS = "2"  # each build waits in its RUN step, so the next rounds' pushes land while builds run


@pytest.fixture
def pool_rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    rig = LocalRig(tmp_path / "rig", PIPELINES, engine=docker_engine, builders=3,
                   build_args={"build_seconds": BUILD_SECONDS}).start()
    try:
        yield rig
    finally:
        rig.stop()


def _span(result: BuildResult) -> tuple[datetime, datetime]:
    return parse_timestamp(result.started_at), parse_timestamp(result.finished_at)


def _builder(result: BuildResult) -> str:
    return result.builder_instance_id or "?"  # the agent's own instance id, on every result since version 1


def overlapping_builds(results: list[BuildResult]) -> list[tuple[str, str, str]]:
    """Pairs of builds of one pipeline whose [started, finished] spans overlap: (pipeline, builder, builder)."""
    found = []
    for a, b in combinations(results, 2):
        (a_start, a_end), (b_start, b_end) = _span(a), _span(b)
        if a.pipeline == b.pipeline and a_start < b_end and b_start < a_end:
            found.append((a.pipeline, _builder(a), _builder(b)))
    return found


def unaccounted_pushes(pushes: dict[str, list[str]], results: list[BuildResult]) -> list[str]:
    """Pushes neither deployed nor coalesced into a later deployed push of the same pipeline."""
    missing = []
    for pipeline, commits in pushes.items():
        deployed = {r.commit for r in results if r.pipeline == pipeline and r.outcome == "succeeded"}
        missing += [sha[:12] for n, sha in enumerate(commits) if not deployed & set(commits[n:])]
    return missing


def out_of_order(pushes: dict[str, list[str]], results: list[BuildResult]) -> list[str]:
    """Pipelines where a deploy finished after a deploy of a later push (a later commit went out first)."""
    wrong = []
    for pipeline, commits in pushes.items():
        done = sorted((r for r in results if r.pipeline == pipeline and r.outcome == "succeeded"),
                      key=lambda r: _span(r)[1])
        order = [commits.index(r.commit) for r in done if r.commit in commits]
        if order != sorted(order):
            wrong.append(pipeline)
    return wrong


def _push_rounds(rig: LocalRig) -> dict[str, list[str]]:
    pushes: dict[str, list[str]] = {spec.key: [] for spec in PIPELINES}
    for round_number in range(1, ROUNDS + 1):
        for spec in PIPELINES:
            page = f"<h1>{spec.repository}</h1>\n<p>round {round_number}</p>\n"
            rig.commit(spec.repository, f"{spec.repository}: round {round_number}", {"www/index.html": page})
            pushes[spec.key].append(rig.push(spec.repository, spec.branch))
    return pushes


def _newest_deployed(rig: LocalRig, pushes: dict[str, list[str]]) -> bool:
    done = {(r.pipeline, r.commit) for r in rig.build_results() if r.outcome == "succeeded"}
    return all((pipeline, commits[-1]) in done for pipeline, commits in pushes.items())


def test_three_pipelines_pushed_three_times_on_three_builders(pool_rig):
    rig = pool_rig

    pushes = _push_rounds(rig)
    rig.wait(lambda: _newest_deployed(rig, pushes), 600, "every pipeline's newest commit deployed")
    rig.wait_quiet(300)

    results = rig.build_results()
    assert overlapping_builds(results) == []
    assert unaccounted_pushes(pushes, results) == []
    assert out_of_order(pushes, results) == []
    # skipped: a request whose commit a build of its pipeline had already deployed (it came in a later round)
    assert {r.outcome for r in results} <= {"succeeded", "skipped"}, [(r.pipeline, r.outcome, r.error) for r in results]
    for spec in PIPELINES:
        # the last deploy of the newest commit: a request that arrives after its commit was built builds it
        # again, and the sample image is not reproducible, so that build is a new image, not a skip
        newest = max((r for r in results if r.pipeline == spec.key and r.commit == pushes[spec.key][-1]
                      and r.outcome == "succeeded"), key=lambda r: _span(r)[1])
        assert stories._runs_tag(rig.service_image(spec), newest.image.tag)
    used = {_builder(r) for r in results}
    assert len(used) >= 2 and used <= set(rig.builder_instance_ids()), used
    assert set(rig.builder_states().values()) == {"stopped"} and not rig.agent_running()
    assert rig.queue_depth() == 0


def test_the_checks_see_an_overlap_a_lost_push_and_a_late_commit_deployed_first():
    """The checks above fail when they should: two builders on one pipeline at once, a push nobody deployed,
    and an older commit deployed after a newer one."""
    def built(commit: str, start: str, end: str, builder: str) -> BuildResult:
        return BuildResult("p/main", "p", "main", "succeeded", commit, f"2026-11-30T01:00:{start}Z",
                           f"2026-11-30T01:00:{end}Z", builder_instance_id=builder)

    pushes = {"p/main": ["a", "b", "c"]}
    clean = [built("b", "00", "05", "i-1"), built("c", "05", "09", "i-2")]
    assert (overlapping_builds(clean), unaccounted_pushes(pushes, clean), out_of_order(pushes, clean)) == ([], [], [])
    assert overlapping_builds([built("b", "00", "05", "i-1"), built("c", "04", "09", "i-2")]) == [
        ("p/main", "i-1", "i-2")]
    assert unaccounted_pushes(pushes, [built("b", "00", "05", "i-1")]) == ["c"]
    assert out_of_order(pushes, [built("c", "00", "05", "i-1"), built("b", "05", "09", "i-2")]) == ["p/main"]
