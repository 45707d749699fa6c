"""The build_start function: a build request arrived, so the builder must be (or become) running.

Queueing and starting are separate on purpose (the seed's design): the request itself waits in
the build queue, this function only makes sure a builder is up to serve it.
"""

from __future__ import annotations

import logging

from chalicelib.builder import Builder
from chalicelib.contracts import ContractError, parse_build_request
from chalicelib.errors import RetryableError

log = logging.getLogger(__name__)


class BuildStartHandler:
    def __init__(self, builder: Builder) -> None:
        self._builder = builder

    def handle(self, message: str) -> str:
        """Returns what happened (for tests and the Lambda result); raises RetryableError on 'stopping'."""
        try:
            request = parse_build_request(message)
        except ContractError as exc:
            log.error("build_start: malformed build request, builder not started: %s", exc)
            return "malformed"
        what = request.pipeline or "every configured pipeline (legacy build)"
        instance = self._builder.describe()
        verdict, why = instance.start_check(self._builder.instance_id, self._builder.tag)
        if verdict == "refused":
            log.error("build_start: refusing to start: %s (request for %s)", why, what)
            return "refused"
        if verdict == "already-running":
            log.info("build_start: %s; it will take %s from the queue", why, what)
            return "already-running"
        if verdict == "stopping":
            raise RetryableError(f"{why}; Lambda's retry will start it for {what} once it has stopped")
        self._builder.start()
        log.info("build_start: started builder %s for %s at %s", instance.instance_id, what,
                 (request.commit or "branch head")[:12])
        return "started"
