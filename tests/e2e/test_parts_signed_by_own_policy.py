"""A part may do only what its policy allows: on the rig, moto enforces IAM, and every part signs as its own role.

The user's worry is the first push on real AWS failing with AccessDenied on an action nobody listed. On the rig
each part's role holds that part's policy (actions only: moto matches no resources), so a call outside it is
refused here first, and a story that needs an action its part lacks fails here, naming the action.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.credentials import InstanceMetadataFetcher
from botocore.exceptions import ClientError

from localrig.rig import LocalRig
from tests.e2e.conftest import SAMPLE


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied", error
    return error["Message"]


def test_a_function_is_refused_an_action_outside_its_policy_and_allowed_one_in_it(rig):
    parameter = rig.outputs["SLACK_WEBHOOK_PARAMETER"]
    rig.part_client("notify", "ssm").get_parameter(Name=parameter, WithDecryption=True)  # notify's policy has it
    message = _refused(rig.part_client("notify", "ec2").describe_instances)
    assert "pushdeploy-rig-notify" in message and "ec2:DescribeInstances" in message
    rig.client("ssm").get_parameter(Name=parameter, WithDecryption=True)  # the rig's admin may do both
    rig.client("ec2").describe_instances()


def test_the_agent_gets_the_builder_role_from_its_instance_metadata_and_only_its_actions(rig):
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=2,
                                      config={"ec2_metadata_service_endpoint": rig.builder_metadata_url()})
    found = fetcher.retrieve_iam_role_credentials()
    assert found["role_name"] == "pushdeploy-rig-builder"
    session = boto3.Session(aws_access_key_id=found["access_key"], aws_secret_access_key=found["secret_key"],
                            aws_session_token=found["token"], region_name=rig.moto.region)
    session.client("sqs", endpoint_url=rig.moto.url).get_queue_attributes(
        QueueUrl=rig.outputs["BUILD_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    message = _refused(session.client("ec2", endpoint_url=rig.moto.url).stop_instances,
                       InstanceIds=rig.builder_instance_ids())
    assert "pushdeploy-rig-builder" in message and "ec2:StopInstances" in message


def test_moto_default_keys_are_refused_once_the_rig_has_its_admin(rig):
    stranger = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=rig.moto.region)
    with pytest.raises(ClientError) as caught:
        stranger.client("sqs", endpoint_url=rig.moto.url).list_queues()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_push_fails_at_the_function_whose_policy_lacks_the_action_it_needs(tmp_path, docker_engine, base_image):
    planted = LocalRig(tmp_path / "rig", [SAMPLE], engine=docker_engine,
                       drop_actions={"build_start": "ec2:StartInstances"}).start()
    try:
        planted.commit("sample", "sample: a push the builder never sees")
        planted.push("sample")

        def denied() -> bool:
            return any(e.stage == "lambda:build_start" and "FAILED" in e.text and "ec2:StartInstances" in e.text
                       for e in planted.events)

        planted.wait(denied, 60, "build_start to be refused ec2:StartInstances")
        assert planted.builder_state() == "stopped"
    finally:
        planted.stop()
