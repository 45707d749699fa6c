"""A BuildResult is shrunk to fit SNS's 256 KB limit the same way every time, with visible markers, and a
result that fits is left exactly as it is."""

from __future__ import annotations

from chalicelib.contracts import BuildResult, CommitInfo, parse_close_message
from chalicelib.message_bounds import RESULT_BUDGET, SNS_MAX_BYTES, bound_result, json_bytes


def result(commits: int = 1, subject: str = "Fix the login page", author: str = "Dev One",
           error: str | None = None) -> BuildResult:
    return BuildResult(
        pipeline="sample/production", repository="sample", branch="production",
        outcome="failed" if error else "succeeded",
        commit=f"{0:040x}", started_at="2026-11-29T10:00:00Z", finished_at="2026-11-29T10:03:00Z",
        commits=tuple(CommitInfo(f"{n:040x}", f"{subject} #{n}", author) for n in range(commits)), error=error)


def test_a_result_that_fits_is_published_unchanged():
    small = result(commits=50)
    assert bound_result(small) is small


def test_long_subjects_are_cut_with_a_marker_and_every_commit_kept():
    big = result(commits=50, subject="refactor " * 1000)  # 9 KB subjects, 450 KB in all

    bounded = bound_result(big)

    assert json_bytes(big) > SNS_MAX_BYTES and json_bytes(bounded) <= RESULT_BUDGET
    assert [c.sha for c in bounded.commits] == [c.sha for c in big.commits]
    assert all(c.subject.endswith("more characters cut]") for c in bounded.commits)
    assert parse_close_message(bounded.to_json()) == bounded  # still a valid contract message


def test_non_ascii_subjects_are_measured_as_published_json_bytes():
    big = result(commits=50, subject="日本語のコミット" * 400)  # 3,200 characters, about 19 KB each once escaped

    bounded = bound_result(big)

    assert json_bytes(big) > SNS_MAX_BYTES and json_bytes(bounded) <= RESULT_BUDGET


def test_with_a_tight_budget_the_newest_commits_stay_and_the_rest_are_counted():
    big = result(commits=50, subject="x" * 500, author="A. Very Long Author Name " * 20)

    bounded = bound_result(big, budget=4_000)

    assert json_bytes(bounded) <= 4_000
    assert bounded.commits[0] == CommitInfo(f"{0:040x}", bounded.commits[0].subject, bounded.commits[0].author)
    assert [c.sha for c in bounded.commits] == [c.sha for c in big.commits[:len(bounded.commits)]]  # newest first
    dropped = 50 - len(bounded.commits)
    assert bounded.commits[-1].subject.endswith(f"[+{dropped} more commits not listed]")
    assert all(len(c.author) < 100 for c in bounded.commits)


def test_the_error_is_cut_last_and_marked():
    big = result(commits=50, subject="x" * 500, error="E" * 1000)

    bounded = bound_result(big, budget=2_000)

    assert json_bytes(bounded) <= 2_000 and bounded.error is not None
    assert bounded.error.startswith("EEE") and bounded.error.endswith("more characters cut]")


def test_shrinking_is_deterministic():
    big = result(commits=50, subject="z" * 20_000)
    assert bound_result(big).to_json() == bound_result(big).to_json()


def test_the_build_id_and_every_reported_step_survive_the_shrinking():
    from dataclasses import replace

    from agent.builder import MAX_RESULT_STEPS
    from chalicelib.contracts import StepTiming

    steps = tuple(StepTiming("rollback", "2026-11-29T10:00:00.000000Z", 1.5, n % 2 == 0)
                  for n in range(MAX_RESULT_STEPS))  # a rollback of 60 services: the most steps a result carries
    big = replace(result(commits=50, subject="refactor " * 1000, error="x" * 5000), build_id="b" * 32, steps=steps)

    bounded = bound_result(big)

    assert json_bytes(bounded) <= RESULT_BUDGET
    assert (bounded.build_id, bounded.steps) == (big.build_id, steps)
    assert parse_close_message(bounded.to_json()) == bounded
