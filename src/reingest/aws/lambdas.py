"""AWS Lambda faces: the original admin-tools Lambdas, on the same services as the CLI.

Configured only by the environment (``Settings.from_env``), which takes the original Lambdas'
names (``API_KEY``, ``PROJECTION_ENDPOINT``, ``KINESIS_STREAM``, ``IMAGES_TO_INDEX_DYNAMO_TABLE``,
``BATCH_SIZE``, ``MAX_SIZE``, ``START_STATE``, ``CHECKER_START_STATE``, ``LATENCY_THRESHOLD``)
as well as the ``REINGEST_*`` ones. The backends are opened on the first invocation and kept for
the container's life (Lambda reuses containers), never at import.

- ``projection_handler``: API Gateway proxy event → the original projection Lambda's answers.
- ``batch_index_handler`` / ``batch_check_handler``: one batch per scheduled event; once nothing
  is left for them they disable their own EventBridge rule.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from fastapi.responses import JSONResponse

from ..backends import Components
from ..batch_check import check_batch
from ..batch_index import index_batch
from ..config import Settings, unknown_message, unknown_variables
from ..http.auth import API_KEY_HEADER, Auth
from ..http.errors import ApiError, checked_id, error_body
from ..http.routes.projection import projection_response
from ..workers import worker_name
from . import schedule

log = logging.getLogger(__name__)
Event = Mapping[str, Any]


@cache
def components() -> Components:
    """This container's backends (built on first use; ``components.cache_clear()`` resets)."""
    for name, guess in unknown_variables(os.environ):
        log.warning("%s", unknown_message(name, guess))
    return Components(Settings.from_env())


def projection_handler(event: Event, context: object = None) -> dict[str, Any]:
    """``GET /images/projection/{id}``: 200 Image, 401 bad key, 400 bad id, 404 / 500 as the
    original Lambda answered them (the HTTP server's own responses, re-shaped for API Gateway)."""
    opened = components()
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    if not Auth(opened.settings.api_keys).valid_key(headers.get(API_KEY_HEADER.lower())):
        message = f"a valid API key is required in {API_KEY_HEADER}"
        return _proxy(JSONResponse(error_body("unauthorised", message), status_code=401))
    try:
        image_id = checked_id(str((event.get("pathParameters") or {}).get("id", "")))
    except ApiError as error:
        body = error_body(error.key, error.message)
        return _proxy(JSONResponse(body, status_code=error.status))
    return _proxy(projection_response(opened, image_id))


def batch_index_handler(event: Event, context: object = None) -> dict[str, Any]:
    """One batch-index run (the original's ``admin-tools-image-batch-index-lambda``)."""
    opened = components()
    report = index_batch(
        opened.progress,
        opened.projector,
        opened.streams,
        opened.settings,
        worker_name("index"),
        opened.index,
    )
    result = report.to_json()
    if not report.claimed and not report.skipped:
        result["disabled_rule"] = _stop_when_done(event, "index")
    return result


def batch_check_handler(event: Event, context: object = None) -> dict[str, Any]:
    """One batch-check run (the original's ``admin-tools-image-batch-check-lambda``)."""
    opened = components()
    report = check_batch(
        opened.progress, opened.index, opened.streams, opened.settings, worker_name("check")
    )
    result = report.to_json()
    if not report.claimed:
        result["disabled_rule"] = _stop_when_done(event, "check")
    return result


def _stop_when_done(event: Event, role: str) -> str | None:
    """Disable the rule that fired us if nothing is left for ``role``; its name, or None."""
    opened = components()
    if not schedule.nothing_left(opened.progress, role, opened.settings):
        return None
    rule = schedule.own_rule(event, os.environ)
    if rule is None:
        log.warning("nothing left for batch-%s, but no rule to disable was named", role)
        return None
    schedule.disable(rule)
    log.info("nothing left for batch-%s: disabled EventBridge rule %s", role, rule.name)
    return rule.name


def _proxy(response: JSONResponse) -> dict[str, Any]:
    """An API Gateway proxy integration's answer."""
    return {
        "statusCode": response.status_code,
        "headers": {"content-type": "application/json"},
        "body": bytes(response.body).decode(),
    }
