"""The rig's SNS delivers to http subscribers after Publish has answered, in publish order, as SNS does: a
publisher never waits for (or fails with) a slow subscriber, and nothing is reordered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.config import Config

from localrig import services


class Subscriber(ThreadingHTTPServer):
    """A real HTTP endpoint that holds every notification until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gate = threading.Event()
        self.messages: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sns"


class _Handler(BaseHTTPRequestHandler):
    server: Subscriber

    def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("Type") == "Notification":
            self.server.gate.wait(30)
            self.server.messages.append(body["Message"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    server = Subscriber()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.gate.set()
        server.shutdown()
        server.server_close()


def test_publish_answers_before_a_slow_subscriber_and_deliveries_keep_their_order(aws, subscriber):
    impatient = Config(read_timeout=5, retries={"total_max_attempts": 1})
    sns = aws.client("sns", config=impatient)
    topic = sns.create_topic(Name="deliveries")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)

    for n in range(3):
        sns.publish(TopicArn=topic, Message=f"message {n}")  # the subscriber holds each: Publish must not wait
    assert subscriber.messages == []

    subscriber.gate.set()
    services.wait_until(lambda: len(subscriber.messages) == 3, 30, "three deliveries")
    assert subscriber.messages == ["message 0", "message 1", "message 2"]
