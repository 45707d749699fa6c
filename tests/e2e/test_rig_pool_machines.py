"""A rig with a pool of builders has one machine per tagged instance, each as separate as an EC2 machine: its
own agent settings (instance id, cache dir), its own Docker engine holding the base image its AMI would have,
its own agent process booted when (and only when) its instance starts; the rig's accessors speak for the pool."""

import tomllib
from collections.abc import Iterator

import pytest

from localrig import services
from localrig.provision import BUILDER_TAG_KEY, BUILDER_TAG_VALUE
from localrig.rig import LocalRig
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


@pytest.fixture
def pool_rig(tmp_path, docker_engine, base_image) -> Iterator[LocalRig]:
    rig = LocalRig(tmp_path / "rig", [SAMPLE], engine=docker_engine, builders=2).start()
    try:
        yield rig
    finally:
        rig.stop()


def _settings(rig: LocalRig, index: int) -> dict:
    return tomllib.loads((rig.run_dir / "builders" / str(index) / "agent.toml").read_text())["agent"]


def test_each_builder_is_its_own_tagged_machine_with_its_own_settings_and_engine(pool_rig):
    ids = pool_rig.builder_instance_ids()
    assert len(ids) == 2 and len(set(ids)) == 2
    assert [m.instance_id for m in pool_rig.builders] == ids and pool_rig.builder is pool_rig.builders[0]
    found = pool_rig.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    for instance in (i for r in found for i in r["Instances"]):
        assert {"Key": BUILDER_TAG_KEY, "Value": BUILDER_TAG_VALUE} in instance["Tags"]
    settings = [_settings(pool_rig, n) for n in (1, 2)]
    assert [s["instance_id"] for s in settings] == ids
    assert len({s["cache_dir"] for s in settings}) == 2
    hosts = [m.env["DOCKER_HOST"] for m in pool_rig.builders]
    assert len(set(hosts)) == 2 and pool_rig.engine.host not in hosts
    for host in hosts:
        engine = services.DockerEngine("builder", None, host=host)
        assert engine.docker("image", "inspect", services.BASE_IMAGE, check=False).returncode == 0


def test_only_the_started_instance_boots_its_agent_and_the_pool_reads_stopped_when_all_are(pool_rig):
    ec2 = pool_rig.client("ec2")
    second = pool_rig.builders[1]
    assert pool_rig.builder_state() == "stopped" and not pool_rig.agent_running()

    ec2.start_instances(InstanceIds=[second.instance_id])
    pool_rig.wait(lambda: second.current() is not None, 60, "the second builder's agent to boot")

    assert pool_rig.builder.current() is None and pool_rig.builder.boots == []
    assert pool_rig.builder_state() == "running" and pool_rig.agent_running()
    ec2.stop_instances(InstanceIds=[second.instance_id])
    pool_rig.wait(lambda: pool_rig.builder_state() == "stopped" and not pool_rig.agent_running(), 60,
                  "the pool to be stopped")
