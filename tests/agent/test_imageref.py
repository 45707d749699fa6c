"""Image references are parsed, not regex-rewritten: hosts with ports, nested paths, tags, digests."""

import pytest

from agent.docker.imageref import ImageRef, ImageRefError, parse_image

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("datadog/agent:7", "docker.io", "datadog/agent", "7", None),
        ("docker.io/library/busybox", "docker.io", "library/busybox", None, None),
        ("index.docker.io/datadog/agent:7", "docker.io", "datadog/agent", "7", None),
        ("localhost/sample", "localhost", "sample", None, None),
        ("localhost:5000/production/sample:v1", "localhost:5000", "production/sample", "v1", None),
        ("127.0.0.1:5000/production/sample:20261126120000-abc1234", "127.0.0.1:5000", "production/sample",
         "20261126120000-abc1234", None),
        ("[::1]:5000/sample:1", "[::1]:5000", "sample", "1", None),
        ("registry.example.com:5443/team/production/sample", "registry.example.com:5443",
         "team/production/sample", None, None),
        ("111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:20261126120000-abc1234",
         "111122223333.dkr.ecr.ap-northeast-1.amazonaws.com", "production/sample", "20261126120000-abc1234", None),
        ("public.ecr.aws/aws-observability/aws-otel-collector:latest", "public.ecr.aws",
         "aws-observability/aws-otel-collector", "latest", None),
        (f"busybox@{DIGEST}", "docker.io", "library/busybox", None, DIGEST),
        (f"127.0.0.1:5000/production/sample:v1@{DIGEST}", "127.0.0.1:5000", "production/sample", "v1", DIGEST),
        (f"registry.example.com:5443/a/b/c@{DIGEST}", "registry.example.com:5443", "a/b/c", None, DIGEST),
        ("my_org/my.app__x:Tag_1.0-rc", "docker.io", "my_org/my.app__x", "Tag_1.0-rc", None),
    ],
)
def test_parses_every_part(text, registry, repository, tag, digest):
    ref = parse_image(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_a_host_port_is_not_a_tag():
    ref = parse_image("127.0.0.1:5000/production/sample")
    assert ref.tag is None
    assert ref.name == "127.0.0.1:5000/production/sample"


def test_renders_back_to_a_full_reference():
    text = f"127.0.0.1:5000/production/sample:v1@{DIGEST}"
    assert str(parse_image(text)) == text
    assert str(parse_image("nginx:1")) == "docker.io/library/nginx:1"


def test_ecr_registry_gives_account_and_region():
    ref = parse_image("111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/production/sample:1")
    assert ref.ecr_account_region == ("111122223333", "ap-northeast-1")
    assert parse_image("public.ecr.aws/nginx/nginx:1").ecr_account_region is None


def test_same_repository_needs_same_host_and_path():
    a = parse_image("127.0.0.1:5000/production/sample:1")
    assert a.same_repository(parse_image("127.0.0.1:5000/production/sample:2"))
    assert not a.same_repository(parse_image("127.0.0.1:5001/production/sample:1"))
    assert not a.same_repository(parse_image("127.0.0.1:5000/production/sample-nginx:1"))
    assert a == ImageRef("127.0.0.1:5000", "production/sample", "1")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("nginx latest", "whitespace"),
        ("Production/Sample:1", "'Production'"),
        ("host:5000/", "no repository path"),
        ("repo//double", "''"),
        ("repo:bad/tag", "bad registry host 'repo:bad'"),
        ("repo:" + "t" * 200, "bad tag"),
        ("repo@sha256:abc", "bad digest"),
        ("repo@md5", "bad digest"),
        ("bad_host.com:x/repo", "bad registry host"),
        ("-lead/repo", "'-lead'"),
        ("a/" * 130 + "b", "longer than 255"),
    ],
)
def test_garbage_is_an_error_that_quotes_the_bad_part(text, names):
    with pytest.raises(ImageRefError) as info:
        parse_image(text)
    assert names in str(info.value)


def test_non_string_is_an_error():
    with pytest.raises(ImageRefError):
        parse_image(None)  # type: ignore[arg-type]
