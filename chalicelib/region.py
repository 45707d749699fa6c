"""The one function that reads the AWS region from the environment, for the agent, infra, the rig,
the scripts and the Lambda settings alike.

boto3 reads only AWS_DEFAULT_REGION, while the AWS CLI v2, the other SDKs, Lambda and the README
export AWS_REGION: a newcomer with AWS_REGION alone got "You must specify a region". AWS_REGION
wins when both are set, as it does in the other SDKs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def region_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """AWS_REGION, else AWS_DEFAULT_REGION, else None (then the caller's own source, e.g. a profile)."""
    env = os.environ if environ is None else environ
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
