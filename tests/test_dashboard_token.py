"""The dashboard's bearer token (chalicelib/dashboard/token.py) against SSM in moto: only the current token
passes; it is read once per container, again after a wrong token at most once per interval (so a rotated
token works without a redeploy and a stream of wrong tokens costs one read per interval), and again once
it is old (so rotating the parameter revokes the old token in warm containers too). An SSM failure is a
server error, not a refusal, unless a value read earlier is at hand."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.dashboard.token import MAX_AGE_SECONDS, REREAD_SECONDS, DashboardToken, presented_token
from chalicelib.errors import RetryableError
from localrig import services

NAME = "/pushdeploy/dashboard-token"
TOKEN = "d4shb0ard-t0ken-1f2e3d"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reads_of(ssm) -> list[str]:
    reads: list[str] = []
    ssm.meta.events.register("before-parameter-build.ssm.GetParameter",
                             lambda params, **_: reads.append(params["Name"]))
    return reads


def put(ssm, value: str, kind: str = "SecureString") -> None:
    ssm.put_parameter(Name=NAME, Value=value, Type=kind, Overwrite=True)


@pytest.fixture
def ssm(aws):
    return aws.client("ssm")


@pytest.mark.parametrize("header, token", [
    (f"Bearer {TOKEN}", TOKEN), (f"bearer   {TOKEN} ", TOKEN), (None, None), ("", None), ("Bearer", None),
    ("Bearer  ", None), (f"Basic {TOKEN}", None), (TOKEN, None),
])
def test_only_a_bearer_header_presents_a_token(header, token):
    assert presented_token(header) == token


def test_only_the_current_token_passes_and_it_is_read_once(ssm):
    put(ssm, TOKEN)
    reads = reads_of(ssm)
    check = DashboardToken(ssm, NAME, clock=Clock())
    assert [check.allows(f"Bearer {TOKEN}") for _ in range(5)] == [True] * 5
    assert check.allows(f"Bearer {TOKEN}x") is False
    assert check.allows(f"Bearer {TOKEN[:-1]}") is False
    assert check.allows(None) is False and check.allows(TOKEN) is False
    assert reads == [NAME]


def test_a_rotated_token_works_after_the_interval_and_wrong_tokens_cost_one_read_per_interval(ssm):
    put(ssm, TOKEN)
    clock = Clock()
    check = DashboardToken(ssm, NAME, clock=clock)
    assert check.allows(f"Bearer {TOKEN}")
    reads = reads_of(ssm)
    put(ssm, "rotated-token-9c8b")
    clock.now += REREAD_SECONDS / 2
    assert [check.allows("Bearer rotated-token-9c8b") for _ in range(20)] == [False] * 20
    assert reads == []
    clock.now += REREAD_SECONDS / 2
    assert check.allows("Bearer rotated-token-9c8b")
    assert reads == [NAME]
    assert [check.allows("Bearer guess") for _ in range(20)] == [False] * 20
    assert reads == [NAME]


def test_rotating_the_parameter_revokes_the_old_token_in_a_warm_container(ssm):
    put(ssm, TOKEN)
    clock = Clock()
    check = DashboardToken(ssm, NAME, clock=clock)
    assert check.allows(f"Bearer {TOKEN}")
    put(ssm, "new-token-after-a-leak")
    clock.now += MAX_AGE_SECONDS - 1
    assert check.allows(f"Bearer {TOKEN}")  # a matching token re-reads nothing until the value is old
    clock.now += 1
    assert check.allows(f"Bearer {TOKEN}") is False


def test_without_the_parameter_everything_is_refused_until_it_exists(ssm, caplog):
    clock = Clock()
    check = DashboardToken(ssm, NAME, clock=clock)
    assert check.allows(f"Bearer {TOKEN}") is False
    assert f"no SSM parameter {NAME}" in caplog.text
    put(ssm, TOKEN)
    clock.now += REREAD_SECONDS
    assert check.allows(f"Bearer {TOKEN}")


def test_an_empty_parameter_lets_no_token_through(ssm):
    put(ssm, " ", kind="String")
    check = DashboardToken(ssm, NAME, clock=Clock())
    assert check.allows("Bearer  ") is False and check.allows("Bearer x") is False


def test_a_plain_string_parameter_works_but_is_warned_about_and_no_token_is_logged(ssm, caplog):
    put(ssm, TOKEN, kind="String")
    assert DashboardToken(ssm, NAME, clock=Clock()).allows(f"Bearer {TOKEN}")
    assert "not a SecureString" in caplog.text and TOKEN not in caplog.text


def test_ssm_out_of_reach_is_a_server_error_until_a_value_was_read_then_that_value_is_kept(tmp_path):
    moto = services.start_moto(tmp_path / "moto")
    try:
        ssm = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=moto.region).client("ssm", endpoint_url=moto.url)
        put(ssm, TOKEN)
        clock = Clock()
        check = DashboardToken(ssm, NAME, clock=clock)
        assert check.allows(f"Bearer {TOKEN}")
    finally:
        moto.stop()  # SSM is gone from here on
    clock.now += MAX_AGE_SECONDS
    assert check.allows(f"Bearer {TOKEN}")  # the refresh failed: the value read before still serves
    assert check.allows("Bearer wrong") is False
    fresh = DashboardToken(ssm, NAME, clock=clock)
    with pytest.raises(RetryableError, match=f"reading SSM parameter {NAME}"):
        fresh.allows(f"Bearer {TOKEN}")
