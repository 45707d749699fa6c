"""The one place the agent builds boto3 clients, from the configured region.

Nothing is created at import time; tests point every client at moto server through the
standard AWS_ENDPOINT_URL variable, so production code has no test switches.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError

from agent.ecs.api import DeployError
from chalicelib.region import region_from_env

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient
else:
    EC2Client = ECRClient = ECSClient = CloudWatchLogsClient = SNSClient = SQSClient = Any
    SSMClient = SecretsManagerClient = Any

_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)
# The heartbeat is rewritten every minute anyway: a slow EC2 endpoint must not hold its thread for long.
_BEAT_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=10)


@dataclass(frozen=True)
class Clients:
    sqs: SQSClient
    sns: SNSClient
    ecr: ECRClient
    ecs: ECSClient
    logs: CloudWatchLogsClient
    ec2: EC2Client
    session: boto3.session.Session | None = None

    # Hosted-git credentials (source_token, source_ssh_key): made on first use, since only pipelines with
    # private sources need them and each client costs 15-30 ms at every agent start.
    @cached_property
    def ssm(self) -> SSMClient:
        return self._session().client("ssm", config=_RETRIES)

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self._session().client("secretsmanager", config=_RETRIES)

    @cached_property
    def dynamodb(self) -> Any:
        """Build history (``history`` and ``status`` commands): only those need it."""
        return self._session().client("dynamodb", config=_RETRIES)

    def _session(self) -> boto3.session.Session:
        return self.session or boto3.session.Session(region_name=self.sqs.meta.region_name)


def make_clients(region: str) -> Clients:
    session = boto3.session.Session(region_name=region)

    def client(name: str) -> Any:
        return session.client(name, config=_RETRIES)

    return Clients(sqs=client("sqs"), sns=client("sns"), ecr=client("ecr"), ecs=client("ecs"), logs=client("logs"),
                   ec2=session.client("ec2", config=_BEAT_RETRIES), session=session)


def ecs_client(region: str | None = None) -> ECSClient:
    """For the deploy, rollback and diff commands, which also run off the builder without a settings file:
    ``None`` takes the region from the environment (AWS_REGION or AWS_DEFAULT_REGION)."""
    try:
        return boto3.client("ecs", region_name=region or region_from_env(), config=_RETRIES)
    except BotoCoreError as exc:
        raise DeployError(f"cannot make an ECS client: {exc} (give a region: --region or AWS_REGION)") from exc


IMDS_URL = "http://169.254.169.254"


def instance_id_from_imds(base_url: str = IMDS_URL, timeout: float = 2.0) -> str | None:
    """This instance's id via IMDSv2 (token first), or None off EC2: EndOfRun then means
    "the configured builder", which the close Lambda knows. A short timeout keeps a laptop run fast."""
    try:
        token_req = urllib.request.Request(f"{base_url}/latest/api/token", method="PUT",
                                           headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(token_req, timeout=timeout) as resp:
            token = resp.read().decode()
        id_req = urllib.request.Request(f"{base_url}/latest/meta-data/instance-id",
                                        headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(id_req, timeout=timeout) as resp:
            value = resp.read().decode().strip()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return value or None
