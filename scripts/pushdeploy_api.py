#!/usr/bin/env python3
"""Call the pipeline API (docs/api.md) with a SigV4-signed request, as API Gateway's AWS_IAM auth requires.

    scripts/pushdeploy_api.py URL list
    scripts/pushdeploy_api.py URL build PIPELINE [--commit SHA] [--force]
    scripts/pushdeploy_api.py URL rollback PIPELINE [--to FAMILY:REVISION|ARN]

URL is the stage's API base (``chalice url --stage prod``, e.g. https://abc123.execute-api.REGION.amazonaws.com/api/).
Credentials and region come from the usual AWS places (environment, profile, instance role); the region may be
given with --region, else it is read from the execute-api host name, else AWS_REGION / AWS_DEFAULT_REGION.
Under ``chalice local --stage local`` the request is signed all the same and the signature ignored. Prints
the answer's JSON; exits 0 on 2xx, 1 otherwise.
Only botocore (which the AWS CLI and boto3 bring) is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit


def request_for(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path, JSON body) for the command line: the pipeline id is one path segment, '/' as %2F."""
    if args.command == "list":
        return "GET", "pipelines", None
    segment = quote(args.pipeline, safe="")
    if args.command == "build":
        body: dict[str, Any] = {"force": True} if args.force else {}
        if args.commit:
            body["commit"] = args.commit
        return "POST", f"pipelines/{segment}/builds", body
    return "POST", f"pipelines/{segment}/rollback", {"to": args.to} if args.to else {}


def region_of(url: str, given: str | None) -> str:
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if given:
        return given
    if len(parts) >= 4 and parts[1] == "execute-api":
        return parts[2]
    # The rule of chalicelib/region.py, inlined: this script stands alone (botocore only).
    from_env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if from_env:
        return from_env
    raise SystemExit(f"pushdeploy-api: error: cannot tell the region from {host!r}: pass --region or set AWS_REGION")


def signed(method: str, url: str, body: bytes, region: str) -> urllib.request.Request:
    """The request with SigV4 headers for execute-api, signed by botocore with the caller's credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    credentials = Session().get_credentials()
    if credentials is None:
        raise SystemExit("pushdeploy-api: error: no AWS credentials found (environment, profile or instance role)")
    aws_request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", region).add_auth(aws_request)
    return urllib.request.Request(url, data=body if method == "POST" else None, method=method,
                                  headers=dict(aws_request.headers.items()))


def call(url: str, args: argparse.Namespace) -> tuple[int, Any]:
    method, path, body = request_for(args)
    full = url.rstrip("/") + "/" + path
    data = b"" if body is None else json.dumps(body).encode()
    request = signed(method, full, data, region_of(url, args.region))
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text.decode("utf-8", "replace")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pushdeploy-api", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the stage's API base URL (chalice url)")
    parser.add_argument("--region", help="region to sign for (default: from the execute-api host)")
    parser.add_argument("--timeout", type=float, default=30.0)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the configured pipelines")
    build = commands.add_parser("build", help="build the branch head, or --commit")
    build.add_argument("pipeline", help="repository/branch")
    build.add_argument("--commit", help="full 40-character commit id to build exactly")
    build.add_argument("--force", action="store_true", help="deploy even when the image is unchanged")
    rollback = commands.add_parser("rollback", help="roll back to the previous revision, or --to")
    rollback.add_argument("pipeline", help="repository/branch")
    rollback.add_argument("--to", help="task definition family:revision or ARN")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    status, answer = call(args.url, args)
    print(json.dumps(answer, indent=2) if not isinstance(answer, str) else answer)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
