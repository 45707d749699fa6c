"""Every command README.md and docs/*.md show in a code block (```sh fenced, or indented) still works,
wherever the rig can run it.

The blocks are parsed as a reader copies them: continuation lines joined, heredocs kept with their
command, `&&`/`;` split into commands, `$(...)` taken out as a command of its own, `$VAR` replaced by a
sample value. Each command then meets exactly one rule in RULES: our own CLIs are parsed by their real
parsers (a renamed or removed option fails), `python -m infra up` prints its `--plan`, the deploy commands
run against the moto server, git and the heredoc'd settings file run in a temporary directory, paths the
command names must exist, an `aws` API call must name a real operation and real parameters (botocore's
model). What cannot run here is listed in NOT_RUN with its reason. A command that meets no rule fails the
test: a new doc command gets a rule, so docs and code cannot drift apart silently.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.S | re.M)
ANY_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INDENTED = re.compile(r"(?:(?<=\n\n)|^)((?:    .*\n|\n(?=    ))+)")
REDIRECTS = {">", ">>", "<", "|", "2>&1"}
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
IMAGE = "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:20261126120000-abc1234"
SAMPLES = {"AWS_REGION": "us-east-1", "SOURCE_ACCOUNT": "111122223333", "PIPELINE_ACCOUNT": "123456789012",
           "ACCOUNT": "123456789012", "BUCKET": "pushdeploy-artifacts-123456789012", "VPC": "vpc-0123",
           "SUBNET": "subnet-0123", "URL": "http://127.0.0.1:9/", "WEBHOOK": "https://hooks.example/x",
           "SECRET": "0" * 64, "EDITOR": "true",
           "QUEUE": "https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-pipeline-build.fifo",
           "DLQ": "https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-pipeline-build-dlq.fifo",
           "BUILDER": "i-0123456789abcdef0",
           "TOPIC": "arn:aws:sns:us-east-1:123456789012:pushdeploy-pipeline-request.fifo"}

# program (first word, or first two) -> why the rig cannot run it
NOT_RUN = {
    "aws": "an AWS CLI command (not an API operation) acting on a real AWS account; pushdeploy's own calls are "
           "tested against moto",
    "awscurl": "a third-party client calling a deployed API Gateway stage",
    "git clone": "clones this repository from where you host it",
    "git push": "pushes to a real CodeCommit repository (the rig's story 1 pushes to its stand-in)",
    "pip install": "downloads from the package index; the tests run offline",
    "read": "reads what a person types (a secret), or the answer of the AWS CLI",
    "unset": "shell state only",
    "cd": "a directory on the reader's machine",
    "echo": "prints a newline after `read -s`",
    "scripts/setup.sh": "installs system packages; `make test` runs it before the tests",
    "sudo": "installs the agent as root on a builder (tests/agent/test_install.py runs install.sh in a container)",
    "source": "reads the env file a running `localrig up` writes (tests/e2e/test_readme_chalice_local.py runs "
              "README's three terminals as written)",
    "curl": "talks to a running `chalice local` (tests/e2e/test_readme_chalice_local.py sends these requests)",
    "scenario": "the table `localrig faults` prints: output, not a command",
}


@dataclass(frozen=True)
class Command:
    doc: str
    text: str  # after substitution

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.text.split("\n", 1)[0], comments=True)
        cut = next((i for i, w in enumerate(words) if w in REDIRECTS), len(words))
        words = words[:cut]
        while words and re.fullmatch(r"\w+=.*", words[0]) and len(words) > 1:
            words.pop(0)  # VAR=value before a program: the environment of that one command
        return words


def _matching_paren(text: str, start: int) -> int:
    """Index of the ')' that closes the '(' at ``start``, quotes respected."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise AssertionError(f"unbalanced parentheses in {text!r}")


def _lift_substitutions(text: str) -> tuple[str, list[str]]:
    """``$(cmd)`` and ``<(cmd)`` become a sample word; their commands are returned to be checked too."""
    inner: list[str] = []
    while (found := re.search(r"[$<]\(", text)) is not None:
        end = _matching_paren(text, found.start() + 1)
        inner.append(text[found.start() + 2:end])
        text = text[:found.start()] + "SUBSTITUTED" + text[end + 1:]
    return text, inner


def _substitute(text: str, doc: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in SAMPLES, f"{doc}: ${name} has no sample value in tests/test_docs_commands.py"
        return SAMPLES[name]

    return VARIABLE.sub(value, text)


def _split(line: str) -> list[str]:
    """A line's commands: split at && and ; outside quotes."""
    parts, current, quote, i = [], "", "", 0
    while i < len(line):
        ch = line[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif line.startswith("&&", i) or ch == ";":
            parts.append(current)
            current, i = "", i + (2 if ch == "&" else 1)
            continue
        current += ch
        i += 1
    return [p.strip() for p in [*parts, current] if p.strip() and not p.strip().startswith("#")]


def _open_quote(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return True
    return False


def block_commands(block: str, doc: str) -> Iterator[Command]:
    lines = iter(block.splitlines())
    for line in lines:
        while line.endswith("\\") or _open_quote(line):
            line = line[:-1] + " " + next(lines).strip() if line.endswith("\\") else line + " " + next(lines).strip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        heredoc = HEREDOC.search(line)
        if heredoc:
            body = []
            for more in lines:
                if more.strip() == heredoc.group(1):
                    break
                body.append(more)
            yield Command(doc, _substitute(line + "\n" + "\n".join(body), doc))
            continue
        lifted, inner = _lift_substitutions(line)
        for text in [*inner, *_split(lifted)]:
            for part in _split(text) if text in inner else [text]:
                yield Command(doc, _substitute(part, doc))


def doc_commands() -> list[Command]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        indented = [re.sub(r"^    ", "", b, flags=re.M) for b in INDENTED.findall(ANY_FENCE.sub("", text))]
        for block in [*FENCE.findall(text), *indented]:
            found.extend(block_commands(block, str(path.relative_to(ROOT))))
    return found


# ---------------------------------------------------------------- checks


def _parse_with(parser: argparse.ArgumentParser, argv: list[str], where: Command) -> argparse.Namespace:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where.doc}: `{where.text}` is refused: {err.getvalue().strip().splitlines()[-1]}")


def _usage(words: list[str], optional: bool) -> list[str]:
    """The doc's usage notation as argv: `<image>` is a placeholder, `[--dry-run]` optional (kept, brackets
    dropped, when ``optional``: every option the doc shows must parse)."""
    out, depth = [], 0
    for word in words:
        depth += word.count("[") if word.startswith("[") else 0
        if depth == 0 or optional:
            out.append(IMAGE if word == "<image>" else word.strip("[]"))
        depth -= word.count("]") if word.endswith("]") and depth else 0
    return out


def check_infra(command: Command, _: dict[str, object]) -> None:
    from infra.__main__ import build_parser

    argv = command.argv[3:]
    _parse_with(build_parser(), argv, command)
    if argv[0] == "up":
        done = subprocess.run([sys.executable, "-m", "infra", *argv, "--plan"], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{command.doc}: `{command.text}` --plan: {done.stderr}"
        assert "failure-destinations" in done.stdout


def check_agent(command: Command, state: dict[str, object]) -> None:
    from agent.cli import build_parser, main

    _parse_with(build_parser(), _usage(command.argv[1:], optional=True), command)
    argv = _usage(command.argv[1:], optional=False)
    ecs = state.setdefault("ecs", _serve_for_deploy_md())
    assert ecs is not None
    assert main(argv) == 0, f"{command.doc}: `{command.text}` failed against moto"


def _serve_for_deploy_md() -> object:
    """docs/deploy.md's services in moto: production-cluster/web and /worker, container app from production/sample."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="production-cluster")
    arn = ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": IMAGE.replace("abc1234", "0000000"), "memory": 64}])["taskDefinition"]
    for name in ("web", "worker"):
        ecs.create_service(cluster="production-cluster", serviceName=name,
                           taskDefinition=arn["taskDefinitionArn"], desiredCount=1)
    return ecs


def check_localrig(command: Command, _: dict[str, object]) -> None:
    """Parsed only: the rig's commands start the whole rig (the README's terminals run in tests/e2e)."""
    from localrig.__main__ import parser

    _parse_with(parser(), _usage(command.argv[3:], optional=True), command)


def check_benchmark(command: Command, _: dict[str, object]) -> None:
    """Benchmarks take minutes: `--help` must list every option the doc shows."""
    done = subprocess.run([sys.executable, command.argv[1], "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    assert done.returncode == 0, f"{command.doc}: `{command.text}` --help: {done.stderr}"
    for option in (w.strip("[]") for w in command.argv[2:] if w.strip("[]").startswith("--")):
        assert option in done.stdout, f"{command.doc}: `{command.text}`: {option} is not an option any more"


AWS_CLI_ONLY = {("s3", "mb"), ("s3", "cp"), ("s3", "rm"), ("s3", "rb"), ("cloudformation", "deploy"),
                ("logs", "tail")}  # the AWS CLI's own commands, not API operations
AWS_GLOBAL_OPTIONS = {"--profile", "--query", "--output", "--region", "--endpoint-url", "--follow"}


def check_aws_api(command: Command, _: dict[str, object]) -> None:
    """`aws SERVICE OPERATION --options` acts on a real account, so it is not run; but the operation must exist
    in botocore's model of the API and every option must be one of its parameters (a typo fails here)."""
    import botocore.session

    service, operation = command.argv[1], command.argv[2]
    model = botocore.session.get_session().get_service_model(service)
    names = {model.operation_model(name).name: name for name in model.operation_names}
    wanted = operation.replace("-", "").lower()
    found = next((names[n] for n in names if n.lower() == wanted), None)
    assert found, f"{command.doc}: `{command.text}`: {service} has no operation {operation}"
    members = {m.lower() for m in model.operation_model(found).input_shape.members}
    for word in command.argv[3:]:
        if word.startswith("--") and word not in AWS_GLOBAL_OPTIONS:
            assert word[2:].replace("-", "").lower() in members, \
                f"{command.doc}: `{command.text}`: {service} {operation} has no parameter {word}"


def check_make(command: Command, _: dict[str, object]) -> None:
    """`make demo`/`make test` run the demo and this very suite: the target must exist."""
    targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M)
    assert command.argv[1] in targets, f"{command.doc}: `{command.text}`: no target {command.argv[1]}"


def check_chalice(command: Command, _: dict[str, object]) -> None:
    argv = command.argv
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    assert argv[1] in ("deploy", "url", "local"), f"{command.doc}: `{command.text}`: unexpected chalice command"
    stage = argv[argv.index("--stage") + 1]
    assert stage in stages or stage == "all", f"{command.doc}: `{command.text}`: no stage {stage!r}"


def check_paths(command: Command, _: dict[str, object]) -> None:
    """pytest and pip: every path or glob the command names exists."""
    for word in command.argv[1:]:
        if word.startswith("-") or "/" not in word and not word.endswith(".txt"):
            continue
        assert glob.glob(str(ROOT / word)), f"{command.doc}: `{command.text}`: {word} matches nothing"


def check_api_script(command: Command, _: dict[str, object]) -> None:
    spec = importlib.util.spec_from_file_location("pushdeploy_api", ROOT / "scripts" / "pushdeploy_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            module.parse_args(command.argv[1:])
        except SystemExit:
            pytest.fail(f"{command.doc}: `{command.text}` is refused: {err.getvalue().strip().splitlines()[-1]}")


def check_in_shell(command: Command, state: dict[str, object]) -> None:
    """Run it with bash in a scratch directory (git archive, the heredoc'd settings file, python -c)."""
    scratch = Path(str(state["tmp"]))
    text = command.text.replace("/tmp/pushdeploy.tar.gz", str(scratch / "pushdeploy.tar.gz"))
    cwd = ROOT if command.argv[:2] == ["git", "archive"] else scratch
    env = dict(os.environ, **SAMPLES, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, f"{command.doc}: `{command.text}` failed: {done.stderr}"
    settings = scratch / "agent-settings.toml"
    if command.argv[:1] == ["cat"] and settings.exists():
        from agent.config import parse_config

        data = tomllib.loads('[agent]\nregion = "us-east-1"\nqueue_url = "https://q"\nclose_topic_arn = '
                             '"arn:aws:sns:us-east-1:1:c"\n' + settings.read_text())
        parse_config(data, "agent-settings.toml")


def check_exists(command: Command, _: dict[str, object]) -> None:
    path = ROOT / command.argv[1 if command.argv[0] == "." else 0]
    assert path.exists() or ".venv" in path.parts, f"{command.doc}: `{command.text}`: {path} does not exist"


def check_assignment(command: Command, _: dict[str, object]) -> None:
    words = command.argv[1:] if command.argv[0] == "export" else command.argv
    assert words and all(re.fullmatch(r"\w+=\S*", w) for w in words), f"{command.doc}: `{command.text}`"


RULES: list[tuple[Callable[[list[str]], bool], Callable[[Command, dict[str, object]], None]]] = [
    (lambda a: a[:3] == ["python", "-m", "infra"], check_infra),
    (lambda a: a[:1] == ["pushdeploy-agent"], check_agent),
    (lambda a: a[:1] in (["chalice"], [".venv/bin/chalice"]), check_chalice),
    (lambda a: a[:3] in (["python", "-m", "localrig"], [".venv/bin/python", "-m", "localrig"]), check_localrig),
    (lambda a: a[:1] == [".venv/bin/python"] and a[1:2] != ["-m"] and a[1].startswith("benchmarks/"),
     check_benchmark),
    (lambda a: a[:1] == ["make"], check_make),
    (lambda a: a[:1] == ["aws"] and len(a) > 2 and (a[1], a[2]) not in AWS_CLI_ONLY, check_aws_api),
    (lambda a: a[:1] in (["scripts/pushdeploy_api.py"],), check_api_script),
    (lambda a: a[:1] in ([".venv/bin/pytest"], [".venv/bin/pip"]), check_paths),
    (lambda a: a[:2] == ["git", "archive"] or a[:1] == ["cat"] or a[:2] in (["python", "-c"], ["python3", "-c"]),
     check_in_shell),
    (lambda a: a[:1] == ["."], check_exists),
    (lambda a: len(a) == 1 and "=" in a[0] or a[:1] == ["export"], check_assignment),
]


def _reason_not_run(argv: list[str]) -> str | None:
    return NOT_RUN.get(" ".join(argv[:2])) or NOT_RUN.get(argv[0])


def test_the_docs_show_commands() -> None:
    commands = doc_commands()
    assert len(commands) > 40, [c.text for c in commands]
    assert any(c.argv[:4] == ["python", "-m", "infra", "up"] for c in commands if c.doc == "README.md")


def test_every_doc_command_runs_or_says_why_not(aws: boto3.Session, tmp_path: Path) -> None:
    state: dict[str, object] = {"tmp": tmp_path}
    ran, not_run = [], []
    for command in doc_commands():
        argv = command.argv
        if argv and argv[0] == "$EDITOR" or argv[:1] == ["true"]:
            not_run.append((command, "the reader's editor"))
            continue
        check = next((c for match, c in RULES if match(argv)), None)
        if check is not None:
            check(command, state)
            ran.append(command)
        elif (reason := _reason_not_run(argv)) is not None:
            not_run.append((command, reason))
        else:
            pytest.fail(f"{command.doc}: `{command.text}` meets no rule: give it one in tests/test_docs_commands.py "
                        "(run or parse it), or a reason in NOT_RUN")
    print(f"{len(ran)} doc commands checked, {len(not_run)} not run:")
    for command, reason in not_run:
        print(f"  {command.doc}: {command.text.splitlines()[0][:80]} -- {reason}")
    assert len(ran) >= 20
