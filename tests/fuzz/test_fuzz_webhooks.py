"""The webhook routes never answer 5xx, and publish or record a delivery only for a correctly signed push
event whose body names the pushed branch and commit: mutations of each provider's documented sample (bodies
mutated and then correctly signed, so the parsers run, not only the signature check), raw bytes, and header
sets with headers dropped, events swapped, ids garbled and signatures missing, wrong or malformed."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.arns import parse_arn
from chalicelib.contracts import parse_build_request
from chalicelib.webhooks.signatures import sign_sha256
from tests.fuzz.harness import assert_enough, fuzz, tally
from tests.fuzz.mutations import control_text, mutated, raw_texts, sweep, to_text
from tests.lambda_app import chalice_client, import_app
from tests.webhooks.rig import PATHS, make_webhook_rig, sample

SAMPLES = {"github": "github_push", "gitlab": "gitlab_push", "bitbucket": "bitbucket_push"}
PUSH_EVENT = {"github": "push", "gitlab": "Push Hook", "bitbucket": "repo:push"}
EVENT_HEADER = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "bitbucket": "X-Event-Key"}
OTHER_EVENTS = ["ping", "issues", "Tag Push Hook", "Merge Request Hook", "pullrequest:created", "repo:fork",
                "", "PUSH", "push ", "Push Hook\n"]
ZERO = "0" * 40
# Valid deliveries that must not build (deletions, tags), run on every run: a random mutation rarely makes them.
NEVER_BUILT = {
    "github": [{"after": ZERO}, {"deleted": True}, {"ref": "refs/tags/v1"}, {"after": ZERO, "deleted": False}],
    "gitlab": [{"after": ZERO}, {"after": ZERO, "checkout_sha": None}],
    "bitbucket": [{"push": {"changes": [{"new": None, "old": {"type": "branch", "name": "main"}}]}},
                  {"push": {"changes": [{"new": {"type": "tag", "name": "v1", "target": {"hash": "1" * 40}}}]}}],
}
SWEEP_LIMIT = 250  # single-field edits of each sample run on every run; the rest of the 1,000 are generated
_ids = itertools.count()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # lone surrogates too: a broken sender's bytes


def _fresh_id() -> str:
    return f"fuzz-{next(_ids)}"


@st.composite
def deliveries(draw: Any, provider: str) -> tuple[dict[str, str], bytes, str]:
    """(headers, body, signing): a mutated or raw body, a mutated header set, and how to sign it."""
    delivery = sample(SAMPLES[provider])
    body = draw(st.one_of(mutated(delivery["body"]).map(to_text).map(_utf8), st.binary(max_size=200),
                          raw_texts(json.dumps(delivery["body"])).map(_utf8)))
    if provider == "github" and draw(st.integers(0, 5)) == 0:  # form-encoded, as GitHub may send it
        body = urlencode({"payload": body.decode("utf-8", "replace")}).encode()
        delivery["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    headers = _mutated_headers(draw, provider, dict(delivery["headers"]))
    signing = draw(st.sampled_from(["valid", "valid", "valid", "wrong", "none", "garbage"]))
    return headers, body, signing


def _mutated_headers(draw: Any, provider: str, headers: dict[str, str]) -> dict[str, str]:
    for name in list(headers):
        if draw(st.integers(0, 9)) == 0:
            del headers[name]
    if draw(st.integers(0, 4)) == 0:
        headers[EVENT_HEADER[provider]] = draw(st.sampled_from(OTHER_EVENTS))
    delivery_header = {"github": "X-GitHub-Delivery", "gitlab": "Idempotency-Key", "bitbucket": "X-Request-UUID"}
    choice = draw(st.integers(0, 9))
    if choice < 7 and delivery_header[provider] in headers:
        headers[delivery_header[provider]] = _fresh_id()  # new deliveries, so valid pushes really publish
    elif choice == 7:
        headers[delivery_header[provider]] = draw(st.text(max_size=10) | control_text | st.just("x" * 300))
    if draw(st.integers(0, 9)) == 0:
        headers[draw(st.text(min_size=1, max_size=8).filter(str.isprintable))] = draw(st.text(max_size=20))
    return {k: v for k, v in headers.items() if k and "\n" not in k + v and "\r" not in k + v}


def _sign(rig: Any, provider: str, headers: dict[str, str], body: bytes, signing: str) -> dict[str, str]:
    if signing == "none":
        return headers
    secret = rig.secrets[provider] if signing == "valid" else "wrong-secret"
    signed = rig.sign(provider, body, headers, secret)
    if signing == "garbage":
        name = {"github": "X-Hub-Signature-256", "gitlab": "X-Gitlab-Token", "bitbucket": "X-Hub-Signature"}[provider]
        signed[name] = sign_sha256(secret, body)[:20] + "\u00e9"
    return signed


def pushed(provider: str, body: bytes, headers: dict[str, str]) -> tuple[str, set[tuple[str, str]]]:
    """(repository, {(branch, commit)}) that the body asks to build, read independently of the parsers."""
    if headers.get("Content-Type") == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs
        try:
            body = parse_qs(body.decode(), strict_parsing=True)["payload"][0].encode()
        except (KeyError, ValueError, UnicodeDecodeError):
            return "", set()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "", set()
    if not isinstance(data, dict):
        return "", set()
    if provider == "bitbucket":
        changes = (data.get("push") or {}).get("changes") if isinstance(data.get("push"), dict) else []
        found = {(c["new"].get("name"), (c["new"].get("target") or {}).get("hash")) for c in changes or []
                 if isinstance(c, dict) and isinstance(c.get("new"), dict) and c["new"].get("type") == "branch"
                 and isinstance(c["new"].get("target"), dict)}
        return str((data.get("repository") or {}).get("full_name")), found
    ref, after = data.get("ref"), data.get("after")
    key = ("repository", "full_name") if provider == "github" else ("project", "path_with_namespace")
    holder = data.get(key[0])
    repository = str(holder.get(key[1])) if isinstance(holder, dict) else ""
    if not isinstance(ref, str) or not ref.startswith("refs/heads/") or data.get("deleted") is True:
        return repository, set()
    return repository, {(ref[len("refs/heads/"):], after)} if after != "0" * 40 else set()


class Writes:
    """Every Publish, PutItem and DeleteItem the routes' own clients send, recorded by botocore just before."""

    def __init__(self, module: Any, topic_arn: str) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for service, region in (("sns", parse_arn(topic_arn).region), ("dynamodb", None)):
            module.factory.webhook_client(service, region).meta.events.register("before-parameter-build",
                                                                                 self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.mark.parametrize("provider", sorted(SAMPLES))
def test_the_webhook_routes_never_fail_and_write_only_for_a_signed_push(aws, monkeypatch, tmp_path, provider):
    rig = make_webhook_rig(aws)
    module = import_app(monkeypatch, rig.env(BRANCH_FILTER='{"*": ["*"]}'))
    writes = Writes(module, rig.pipeline.request_topic_arn)
    delivery = sample(SAMPLES[provider])
    swept = sweep(delivery["body"])
    explicit = [(dict(delivery["headers"], **{_delivery_header(provider): f"sweep-{i}"}),
                 _utf8(to_text(body)), "valid")
                for i, body in enumerate(swept[:: max(1, len(swept) // SWEEP_LIMIT)])]
    explicit += [(dict(delivery["headers"], **{_delivery_header(provider): f"never-{i}"}),
                  _utf8(json.dumps({**delivery["body"], **edit})), "valid")
                 for i, edit in enumerate(NEVER_BUILT[provider])]
    name = f"webhook:{provider}"
    with chalice_client(module, tmp_path) as client:

        @fuzz(name, explicit)
        @given(deliveries(provider))
        def one_input(value: tuple[dict[str, str], bytes, str]) -> None:
            tally(name)
            headers, body, signing = value
            headers = _sign(rig, provider, dict(headers), body, signing)
            response = client.http.post(PATHS[provider], headers=headers, body=body)
            assert response.status_code < 500, (response.status_code, response.body)
            calls = writes.take()
            if not calls:
                return
            assert not headers.get(_delivery_header(provider), "").startswith("never-"), calls
            assert signing == "valid" and headers.get(EVENT_HEADER[provider]) == PUSH_EVENT[provider], calls
            repository, allowed = pushed(provider, body, headers)
            published = [parse_build_request(params["Message"]) for op, params in calls if op == "Publish"]
            answer = json.loads(response.body)
            if answer["result"] == "duplicate":
                assert [op for op, _ in calls] == ["PutItem"]
                return
            assert response.status_code == 200 and [op for op, _ in calls] == ["PutItem"] + ["Publish"] * len(
                published) and len(published) == len(answer["requests"]) >= 1, (calls, answer)
            for request in published:
                assert (request.branch, request.commit) in allowed
                assert (request.repository, request.trigger, request.source) == (repository, provider, "webhook")
            rig.published()  # drained: a deep queue slows moto down
            tally(f"{name} published")  # how many inputs got through to publishing, in the summary line

        one_input()
    assert_enough(name)


def _delivery_header(provider: str) -> str:
    return {"github": "X-GitHub-Delivery", "gitlab": "Idempotency-Key", "bitbucket": "X-Request-UUID"}[provider]
