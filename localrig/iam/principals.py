"""Who signs what on the rig: an admin principal for the rig itself, and one role per part.

With moto's IAM enforcement on (``INITIAL_NO_AUTH_ACTION_COUNT``), only the first N requests that reach a
service's ``call_action`` are free; every later one must be signed with known keys whose policies allow its
action. The rig spends exactly those free requests on making its admin user (CreateUser, PutUserPolicy with
Allow * on *, CreateAccessKey: ``BOOTSTRAP_CALLS``) and signs everything it does itself with the admin's keys.

Each part (a Lambda function, the agent as the builder role, ...) then gets a role ``pushdeploy-rig-<part>`` that
the admin user may assume (moto checks a trust policy's principal against the caller's ARN, AWS principals only),
with that part's policies as moto is given them (``widened``: moto matches actions only), and signs with the
credentials of ``sts:AssumeRole``. moto never checks an assumed session's expiry (its AssumedRoleAccessKey looks
the key up and compares the token, nothing else), so the rig assumes each role once per start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

log = logging.getLogger(__name__)

ADMIN_USER = "pushdeploy-rig-admin"
ROLE_PREFIX = "pushdeploy-rig-"
BOOTSTRAP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey: the requests moto lets through unsigned
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
UNSIGNED_KEYS = ("testing", "testing")  # moto's default keys: accepted only while the free requests last


@dataclass(frozen=True)
class Keys:
    """One principal's credentials; ``session_token`` is empty for an IAM user's own keys."""

    access_key_id: str
    secret_access_key: str
    session_token: str = ""
    expiration: datetime | None = None
    arn: str = ""

    def env(self) -> dict[str, str]:
        """The AWS_* variables a process signs with (AWS_SESSION_TOKEN empty for a user: botocore skips it)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}

    def session(self, region: str) -> boto3.Session:
        return boto3.Session(aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
                             aws_session_token=self.session_token or None, region_name=region)

    def to_json(self) -> dict[str, str]:
        return {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key,
                "Token": self.session_token, "Arn": self.arn,
                "Expiration": self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ") if self.expiration else ""}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Keys:
        return cls(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token", ""), arn=data.get("Arn", ""))


DEFAULT_KEYS = Keys("testing", "testing", "testing")


def bootstrap_admin(url: str, region: str) -> Keys:
    """The rig's admin user, made with the server's free requests (exactly ``BOOTSTRAP_CALLS``; no retries, as a
    retried request would spend one more)."""
    from botocore.config import Config

    iam = boto3.client("iam", endpoint_url=url, region_name=region, aws_access_key_id=UNSIGNED_KEYS[0],
                       aws_secret_access_key=UNSIGNED_KEYS[1],
                       config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    arn = iam.create_user(UserName=ADMIN_USER)["User"]["Arn"]
    iam.put_user_policy(UserName=ADMIN_USER, PolicyName="rig-admin", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    log.info("rig admin %s: key %s", arn, key["AccessKeyId"])
    return Keys(key["AccessKeyId"], key["SecretAccessKey"], arn=arn)


def trust_policy(admin_arn: str) -> dict[str, Any]:
    """Only the rig's admin may assume a part's role (moto's trust check compares AWS principals only)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]}


def role_name(part: str) -> str:
    return f"{ROLE_PREFIX}{part}".replace("_", "-")


def make_part_role(iam: Any, admin_arn: str, part: str, documents: tuple[dict[str, Any], ...]) -> str:
    """The part's role with one inline policy per document (as moto is given it); returns its ARN."""
    name = role_name(part)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy(admin_arn)),
                          Description=f"pushdeploy rig: the {part} part")["Role"]["Arn"]
    for number, document in enumerate(documents, 1):
        iam.put_role_policy(RoleName=name, PolicyName=f"{part}-{number}", PolicyDocument=json.dumps(document))
    return arn


def assume(sts: Any, role_arn: str, part: str) -> Keys:
    """Fresh credentials of a part's role (session name = the part, so moto's denials name it)."""
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=part[:64])
    c = creds["Credentials"]
    return Keys(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c.get("Expiration"),
                creds["AssumedRoleUser"]["Arn"])


def make_part_roles(client: Callable[[str], Any], admin_arn: str,
                    documents: Mapping[str, tuple[dict[str, Any], ...]]) -> dict[str, str]:
    """A role per part, from each part's widened documents; part -> role ARN."""
    iam = client("iam")
    roles = {part: make_part_role(iam, admin_arn, part, docs) for part, docs in documents.items()}
    log.info("rig roles: %s", ", ".join(sorted(roles)))
    return roles




def part_documents(client: Callable[[str], Any], stack_name: str,
                   drop: Mapping[str, str] | None = None) -> dict[str, tuple[dict[str, Any], ...]]:
    """What moto is given for each part: ``widened`` of each of its documents (localrig.iam.part_policies, the
    failure-destination grant included). ``drop`` (part -> action) removes one action from a part's widened
    documents: the planted bug a test uses to watch a story fail."""
    from localrig.iam.part_policies import part_policies, widened

    policies = part_policies(client, stack_name)
    found: dict[str, tuple[dict[str, Any], ...]] = {}
    for part, policy in policies.items():
        docs = tuple(widened(doc) for doc in policy.documents)
        if drop and part in drop:
            docs = tuple(without_action(doc, drop[part]) for doc in docs)
        found[part] = docs
    return found


def without_action(document: dict[str, Any], action: str) -> dict[str, Any]:
    """The document with ``action`` removed from every Allow statement (a statement left empty is dropped)."""
    statements = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        kept = [a for a in actions if a.lower() != action.lower()]
        if kept:
            statements.append(dict(statement, Action=kept))
    return dict(document, Statement=statements)
