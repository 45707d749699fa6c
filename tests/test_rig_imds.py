"""Each rig builder has its own instance metadata service, IMDSv2 as the launch template requires it: the agent's
own reader (agent/aws.py) gets the builder's instance id with a session token, and a read without one is refused."""

import urllib.error
import urllib.request

import pytest

from agent.aws import instance_id_from_imds
from localrig.imds import MetadataService


@pytest.fixture
def imds():
    service = MetadataService("i-0123456789abcdef0").start()
    yield service
    service.stop()


def test_the_agent_reads_its_builder_s_instance_id(imds):
    assert instance_id_from_imds(imds.url) == "i-0123456789abcdef0"


def test_two_builders_answer_each_with_its_own_id():
    first, second = MetadataService("i-1").start(), MetadataService("i-2").start()
    try:
        assert (instance_id_from_imds(first.url), instance_id_from_imds(second.url)) == ("i-1", "i-2")
    finally:
        first.stop()
        second.stop()


def test_a_read_without_a_session_token_is_refused(imds):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{imds.url}/latest/meta-data/instance-id", timeout=5)
    assert err.value.code == 401
