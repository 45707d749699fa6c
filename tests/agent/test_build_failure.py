"""Reading a failed build's output (agent.docker.build_failure), on output shaped exactly as docker's
classic builder printed it for a real failing build (tests/agent/test_image.py runs the real
thing): long lines cut in the middle, short build-arg values left alone, multi-line ones blanked."""

from agent.docker.build_failure import MAX_DOCKER_LINE_CHARS, MAX_LINE_CHARS, failing_step_output, failure_reason

STDOUT = ("Sending build context to Docker daemon  3.584kB\n"
          "Step 1/3 : FROM local/busybox:latest\n ---> 9fa1b5e57505\n"
          "Step 2/3 : ARG secret=dflt\n ---> Running in ec9c8984a58f\n"
          "Removing intermediate container ec9c8984a58f\n ---> c88fdb5e1b9b\n"
          "Step 3/3 : RUN ./check\n ---> Running in f3288861f134\n{out}")
STDERR = ("DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n\n"
          "The command '/bin/sh -c ./check' returned a non-zero code: 3\n")


def test_the_failing_step_s_lines_without_docker_s_bookkeeping_or_colour():
    out = STDOUT.format(out="line one\n\n\x1b[91mbuild failed on purpose: missing thing\n\x1b[0m")
    assert failing_step_output(out) == ["line one", "build failed on purpose: missing thing"]
    assert failing_step_output("no steps at all\n") == []


def test_long_lines_are_cut_in_the_middle_keeping_their_ends():
    long_line = "begin " + "x" * 500 + " the point"
    stderr = STDERR.replace("./check", "./check " + "y" * 500)
    reason = failure_reason(STDOUT.format(out=long_line + "\n"), stderr, 3)
    said, docker_said = reason.split(" | ")
    assert len(said) == MAX_LINE_CHARS and said.startswith("begin x") and said.endswith("x the point")
    assert "..." in said
    assert len(docker_said) == MAX_DOCKER_LINE_CHARS and docker_said.endswith("returned a non-zero code: 3")


def test_build_arg_values_are_blanked_short_ones_are_not_and_multi_line_ones_are_line_by_line():
    out = "env is on\nkey line A-123456\nkey line B-654321\ntoken=abcd1234 done\n"
    reason = failure_reason(STDOUT.format(out=out), STDERR, 3, ["on", "A-123456\nB-654321", "abcd1234"])
    assert reason == ("key line *** | key line *** | token=*** done | "
                      "The command '/bin/sh -c ./check' returned a non-zero code: 3")
    assert failure_reason(STDOUT.format(out="env is on\n"), STDERR, 3, ["on"]).startswith("env is on | ")


def test_without_any_stderr_the_exit_status_is_the_reason():
    assert failure_reason("", "", 125) == "docker build exited with status 125"
