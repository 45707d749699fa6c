"""Hypothesis strategies that mutate real sample events into the inputs an operator, a broken agent or a
stray publisher could send: dropped keys, wrong types, numbers where strings go, deep nesting, huge strings,
unicode, control characters, lone surrogates, and text that is not JSON at all.

``mutated(sample)`` gives Python values (for handlers that receive an event dict); ``message_texts(sample)``
gives strings (for handlers that receive an SNS message or an SQS body).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Deep:
    """Nesting ``depth`` levels deep; built only at the end, because hypothesis, deepcopy and json.dumps
    all recurse and would fail on it before the handler ever saw it."""

    depth: int


INTERESTING = [
    "", " ", "\n", "build", "stop", " build\n", "true", "null", "0", "-1", "1e999", "NaN", "²", "1²", "٣",
    "0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567\n",
    "0123456789ABCDEF0123456789ABCDEF01234567", "5e493c6f3067653f3d04eca608b4901eb227078",
    "refs/heads/production", "refs/heads/", "refs/heads/feature/login", "refs/heads/a\nSubject: x",
    "refs/heads/" + "x" * 300, "refs/heads/ü", "refs/heads/a..b", "refs/tags/v1.0", "refs/heads/\ud800",
    "arn:aws:codecommit:us-east-1:123456789012:sample", "arn:aws:codecommit:us-east-1:123456789012:",
    "arn:aws:codecommit:us-east-1:123456789012:sam\nple", "arn:aws:sns:us-east-1:123456789012:sample",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/web:²",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/web:" + "9" * 5000,
    "arn:aws:ecs:xx-evil|<x>-1:123456789012:task-definition/web:3", "web:3", "web:",
    "2026-11-26T10:00:00", "2026-11-26T10:00:00Z", "2026-11-26T19:00:00+09:00", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z", "TriggerEventTest", "ReferenceChanges",
    "referenceCreated", "referenceUpdated", "referenceDeleted", "aws.codecommit", "branch", "tag",
    "pushdeploy.build_request", "pushdeploy.build_result", "pushdeploy.end_of_run", "pushdeploy.alert",
    "succeeded", "failed", "rolled_back", "skipped", "Notification", "```", "<!channel>", "&amp;", "*bold*",
]
_HUGE = [("x", 5_000), ("\n", 1_000), ("é", 100_000), ("😀", 3_000), ("9", 4_301), ("x", 300_000), ("`", 5_000)]

control_text = st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Cs")), min_size=1, max_size=8)
huge_text = st.sampled_from(_HUGE).map(lambda pair: pair[0] * pair[1])
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), control_text, huge_text,
    st.sampled_from(INTERESTING),
)
deep = st.sampled_from([10, 500, 999, 1_000, 3_000]).map(Deep)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8) | st.sampled_from(INTERESTING[:12]), inner, max_size=3),
                      max_leaves=6) | deep


def _paths(root: Any) -> Iterator[tuple[Any, ...]]:
    """Every path into ``root`` (keys and indices), the root itself first."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), root)]
    while stack:
        path, value = stack.pop()
        yield path
        if isinstance(value, dict):
            stack.extend((path + (key,), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((path + (index,), item) for index, item in enumerate(value))


def _edit_text(draw: Any, text: str) -> str:
    """A small edit that keeps most of the string: what a half-broken producer or a typo does."""
    where = draw(st.integers(0, len(text)))
    insert = draw(control_text | st.text(min_size=1, max_size=5) | st.sampled_from(["\n", "\r\n", "\x00", "😀"]))
    return draw(st.sampled_from([
        text[:where] + insert + text[where:], text + "\n", text[:where], (text * 2_000)[:300_000],
        text.rstrip("Z"),  # a timestamp loses its UTC marker
        re.sub(r"[0-9]+\Z", "²", text), re.sub(r"[0-9]+\Z", "9" * 5_000, text),  # odd or huge trailing numbers
        text.upper(), text.replace("/", "/../"), " " + text,
    ]))


# Keys a sample may lack but its readers look for, so mutations also add fields, not only break them.
EXTRA_KEYS = ["deleted", "created", "agent_exited", "builder_instance_id", "error", "eventName", "commit",
              "pushed_by", "type", "version", "Type", "Message"]
_OPERATIONS = {
    str: ["edit", "edit", "edit", "replace", "drop", "wrap", "empty"],
    dict: ["add", "add", "drop", "replace", "wrap", "empty"],
    list: ["repeat", "drop", "replace", "empty", "wrap"],
}


def _mutate_once(draw: Any, root: Any) -> Any:
    path = draw(st.sampled_from(sorted(_paths(root), key=lambda p: (len(p), repr(p)))))
    target = root
    for step in path[:-1]:
        target = target[step]
    current = target[path[-1]] if path else root
    operation = draw(st.sampled_from(_OPERATIONS.get(type(current), ["replace", "replace", "drop", "wrap"])))
    if operation == "drop" and path:
        del target[path[-1]]
        return root
    if operation == "add" and isinstance(current, dict):
        key = draw(st.sampled_from(EXTRA_KEYS + sorted(current)))
        current[key] = draw(st.sampled_from(["true", "false", 1, 0, "yes"]) | values)
        return root
    if operation == "edit" and isinstance(current, str):
        new = _edit_text(draw, current)
    elif operation == "wrap":
        new = draw(st.sampled_from([[current], {"value": current}, json.dumps(current, default=str)]))
    elif operation == "empty" and isinstance(current, (str, list, dict)):
        new = type(current)()
    elif operation == "repeat" and isinstance(current, list) and current:
        new = current * draw(st.sampled_from([2, 10]))
    else:
        new = draw(values)
    if not path:
        return new
    target[path[-1]] = new
    return root


@st.composite
def mutated(draw: Any, sample: Any, max_mutations: int = 4) -> Any:
    """``sample`` (left unchanged) with 0 to ``max_mutations`` mutations; 0 keeps valid inputs in the mix."""
    value = copy.deepcopy(sample)
    for _ in range(draw(st.integers(0, max_mutations))):
        value = _mutate_once(draw, value)
    return value


_STRING_EDITS = (
    lambda t: t + "\n", lambda t: t.rstrip("Z"), lambda t: re.sub(r"[0-9]+\Z", "²", t),
    lambda t: re.sub(r"[0-9]+\Z", "9" * 5_000, t), lambda t: t + "\x00", lambda t: "\ud800" + t,
    lambda t: (t or "x") * (300_000 // max(len(t), 1)), lambda t: t[:-1],
    lambda t: t + "-ü", lambda t: t + "-" + "x" * 240,  # still valid names, but not as an SNS Subject
)
_ADDED_VALUES = ("true", 1, None)


def _edits(sample: Any) -> list[tuple[str, tuple[Any, ...], Any]]:
    """Every single edit of ``sample``: each string edited each way, each object given each extra key."""
    found: list[tuple[str, tuple[Any, ...], Any]] = []
    for path in _paths(sample):
        value = _at(sample, path)
        if isinstance(value, str):
            found += [("edit", path, index) for index, edit in enumerate(_STRING_EDITS) if edit(value) != value]
        elif isinstance(value, dict):
            found += [("add", path, (key, added)) for key in EXTRA_KEYS if key not in value for added in _ADDED_VALUES]
    return found


def _at(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _apply(sample: Any, edit: tuple[str, tuple[Any, ...], Any]) -> Any:
    kind, path, arg = edit
    value = copy.deepcopy(sample)
    if kind == "add":
        _at(value, path)[arg[0]] = arg[1]
        return value
    new = _STRING_EDITS[arg](_at(value, path))
    if not path:
        return new
    _at(value, path[:-1])[path[-1]] = new
    return value


def sweep(sample: Any) -> list[Any]:
    """``sample`` with each single edit in turn: inputs valid but for one field, where a handler's deeper code
    runs and field-specific bugs hide. Run as explicit examples, so every one is tried on every run."""
    return [_apply(sample, edit) for edit in _edits(sample)]


def materialize(value: Any) -> Any:
    """``value`` with each ``Deep`` made into real nested lists (for handlers given Python values)."""
    if isinstance(value, Deep):
        nested: list[Any] = []
        for _ in range(value.depth):
            nested = [nested]
        return nested
    if isinstance(value, dict):
        return {key: materialize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [materialize(item) for item in value]
    return value


def to_text(value: Any) -> str:
    """``value`` as JSON text, each ``Deep`` written as that many brackets (which json.loads cannot read)."""
    def placeholder(obj: Any) -> str:
        if isinstance(obj, Deep):
            return f"\x00deep{obj.depth}\x00"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=placeholder)
    for depth in {d.depth for d in _deeps(value)}:
        text = text.replace(f'"\\u0000deep{depth}\\u0000"', "[" * depth + "]" * depth)
    return text


def _deeps(value: Any) -> Iterator[Deep]:
    for path in _paths(value):
        item = value
        for step in path:
            item = item[step]
        if isinstance(item, Deep):
            yield item


def raw_texts(sample_text: str) -> st.SearchStrategy[str]:
    """Texts that are not the sample's JSON: cut short, nested too deep, numbers too long, not JSON."""
    depths = st.sampled_from([999, 1_000, 1_500, 100_000])
    return st.one_of(
        st.text(max_size=50), st.sampled_from(INTERESTING), control_text, huge_text,
        st.integers(0, len(sample_text)).map(lambda cut: sample_text[:cut]),
        depths.map(lambda n: "[" * n + "]" * n), depths.map(lambda n: '{"a":' * n + "1" + "}" * n),
        depths.map(lambda n: sample_text[:-1] + ',"deep":' + "[" * n + "]" * n + "}"),
        st.just('{"type": "pushdeploy.build_result", "version": ' + "9" * 5_000 + "}"),
        st.just(sample_text.replace('"version":1', '"version":1e999')),
        st.just(sample_text.replace('"version":1', '"version":NaN')),
    )


def message_texts(sample: Any) -> st.SearchStrategy[str]:
    """SNS messages and SQS bodies made from ``sample`` (a JSON value): mostly mutated JSON, some raw text."""
    sample_text = json.dumps(sample, separators=(",", ":"), sort_keys=True)
    return st.one_of(mutated(sample).map(to_text), mutated(sample).map(to_text), raw_texts(sample_text))


def strings_in(value: Any) -> set[str]:
    """Every string anywhere in ``value``, without recursion (the value may be nested thousands deep)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
