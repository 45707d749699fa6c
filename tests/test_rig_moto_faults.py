"""The rig's fault switches for moto (localrig/aws/faults.py): what AWS does that plain moto cannot,
switched on and off while the server runs. ECS refuses a register or an update; a rollout to a new
revision never completes (and a rollback to the running one does), then completes once allowed;
a stopped instance passes through ``stopping``, where EC2 refuses to start it; a receive's answer is lost after
SQS carried it out."""


import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localrig import services


@pytest.fixture
def aws(faulty_moto):
    server, switch = faulty_moto
    server.reset()
    switch.clear()
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=server.region)
    return (lambda name: session.client(name, endpoint_url=server.url)), switch


def _service(ecs):
    ecs.create_cluster(clusterName="c")
    first = ecs.register_task_definition(family="f", containerDefinitions=[
        {"name": "web", "image": "r/app:1", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="web", taskDefinition=first, desiredCount=1)
    second = ecs.register_task_definition(family="f", containerDefinitions=[
        {"name": "web", "image": "r/app:2", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    return first, second


def _primary(ecs):
    service = ecs.describe_services(cluster="c", services=["web"])["services"][0]
    return service, next(d for d in service["deployments"] if d["status"] == "PRIMARY")


def test_ecs_refuses_the_register_and_the_update_while_told_to(aws):
    client, switch = aws
    ecs = client("ecs")
    first, second = _service(ecs)

    switch.set(ecs_register_error="Too many concurrent attempts")
    with pytest.raises(ClientError) as refused:
        ecs.register_task_definition(family="f", containerDefinitions=[{"name": "web", "image": "x", "memory": 64}])
    assert refused.value.response["Error"] == {"Code": "ClientException", "Message": "Too many concurrent attempts"}

    switch.set(ecs_register_error=None, ecs_update_error="cluster is being modified")
    with pytest.raises(ClientError, match="cluster is being modified"):
        ecs.update_service(cluster="c", service="web", taskDefinition=second)
    assert _primary(ecs)[1]["taskDefinition"] == first

    switch.clear()
    ecs.update_service(cluster="c", service="web", taskDefinition=second)
    assert _primary(ecs)[1]["rolloutState"] == "COMPLETED"


def test_a_stuck_rollout_stays_in_progress_a_rollback_completes_and_it_finishes_once_allowed(aws):
    client, switch = aws
    ecs = client("ecs")
    first, second = _service(ecs)

    switch.set(ecs_rollouts_stuck=True)
    ecs.update_service(cluster="c", service="web", taskDefinition=second)
    service, primary = _primary(ecs)
    assert (primary["taskDefinition"], primary["rolloutState"], primary["runningCount"]) == (second, "IN_PROGRESS", 0)
    assert [d["taskDefinition"] for d in service["deployments"] if d["status"] == "ACTIVE"] == [first]

    ecs.update_service(cluster="c", service="web", taskDefinition=first)  # the rollback
    assert _primary(ecs)[1]["rolloutState"] == "COMPLETED"

    ecs.update_service(cluster="c", service="web", taskDefinition=second)
    assert _primary(ecs)[1]["rolloutState"] == "IN_PROGRESS"
    switch.clear()
    service, primary = _primary(ecs)
    assert (primary["taskDefinition"], primary["rolloutState"], primary["runningCount"]) == (second, "COMPLETED", 1)
    assert len(service["deployments"]) == 1


def test_a_stopping_instance_stays_stopping_for_a_while_and_cannot_be_started(aws):
    client, switch = aws
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    def state():
        return ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]

    switch.set(ec2_stopping_seconds=60)
    ec2.stop_instances(InstanceIds=[instance])
    assert state() == "stopping"
    with pytest.raises(ClientError) as refused:
        ec2.start_instances(InstanceIds=[instance])
    assert refused.value.response["Error"]["Code"] == "IncorrectInstanceState"
    ec2.stop_instances(InstanceIds=[instance])  # a second stop is accepted
    assert state() == "stopping"

    switch.set(ec2_stopping_seconds=0.2)
    other = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[other])
    services.wait_until(lambda: ec2.describe_instances(InstanceIds=[other])["Reservations"][0]["Instances"][0]
                        ["State"]["Name"] == "stopped", 30, "the stopping phase to end")


def test_without_faults_an_instance_stops_at_once(aws):
    client, _ = aws
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    assert ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"] \
        == "stopped"


def test_a_lost_receive_answer_is_carried_out_and_the_client_gets_a_500(aws):
    client, switch = aws
    plain = client("sqs")  # without retries: this test looks at the one answer the client got
    sqs = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "sqs", endpoint_url=plain.meta.endpoint_url, region_name=plain.meta.region_name,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="1")
    switch.set(sqs_receive_answer_lost="token-1")

    with pytest.raises(ClientError) as lost:
        sqs.receive_message(QueueUrl=url)
    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    in_flight = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert in_flight["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # the receive was carried out

    sqs.send_message(QueueUrl=url, MessageBody="n", MessageGroupId="h", MessageDeduplicationId="2")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["n"]  # once per token
