"""Operating the reingestion over HTTP: health, Prometheus metrics, stats, failures, reset, the
scheduler, id uploads and messages posted by hand. The same calls the CLI makes; the dashboard's forms use them too."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, field_validator

from ...backends import Components
from ...ids import UploadReport, upload_ids
from ...metrics import collect, render
from ...publish import PublishReport, publish_lines
from ...states import State
from ...streams.base import Priority
from ..auth import require_key
from ..control import overview
from ..deps import ComponentsDep, SamplerDep, SchedulerDep
from ..errors import ApiError
from .loader import read_body

health_router = APIRouter(tags=["admin"])
router = APIRouter(tags=["admin"], dependencies=[Depends(require_key)])


@health_router.get("/health", summary="Liveness (no key needed)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(components: ComponentsDep, scheduler: SchedulerDep) -> PlainTextResponse:
    run = scheduler.summary if scheduler.running else None
    return PlainTextResponse(render(collect(components, run)), media_type=CONTENT_TYPE_LATEST)


@router.get("/admin/stats", summary="Counts, throughput, ETA, stream lag and failures")
def stats(components: ComponentsDep, sampler: SamplerDep) -> dict[str, Any]:
    return overview(components, sampler)


class ResetRequest(BaseModel):
    #: state ids or names
    states: list[str | int]
    #: only ids whose failure reason is exactly this
    reason: str | None = None

    @field_validator("reason")
    @classmethod
    def _valid_unicode(cls, reason: str | None) -> str | None:
        """JSON can carry lone surrogates; no stored reason holds one, and the database
        cannot even be asked."""
        try:
            (reason or "").encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode (a lone surrogate)") from None
        return reason


def reset_states(components: Components, states: list[str | int], reason: str | None) -> int:
    """``reingest reset --state N [--reason R]`` for several states; 400 on an unknown one."""
    try:
        parsed = [State.parse(s) for s in states]
    except ValueError as error:
        raise ApiError(400, "invalid-state", str(error)) from None
    return components.progress.reset(parsed, State.NotStarted, reason)


@router.post("/admin/reset", summary="Put ids back to NotStarted (e.g. retry a failure group)")
def reset(request: ResetRequest, components: ComponentsDep) -> dict[str, int]:
    return {"reset": reset_states(components, request.states, request.reason)}


@router.get("/admin/scheduler", summary="Is the scheduler running?")
def scheduler_status(scheduler: SchedulerDep) -> dict[str, Any]:
    return scheduler.status()


@router.post("/admin/scheduler/start", summary="Start index → thrall → check in the server")
def scheduler_start(scheduler: SchedulerDep, until_done: bool = True) -> dict[str, Any]:
    scheduler.start(until_done=until_done)
    return scheduler.status()


@router.post("/admin/scheduler/stop", summary="Stop the scheduler after its current cycle")
async def scheduler_stop(scheduler: SchedulerDep) -> dict[str, Any]:
    await run_in_threadpool(scheduler.stop)
    return scheduler.status()


def report_json(report: UploadReport) -> dict[str, Any]:
    return {
        "valid": report.valid,
        "added": report.added,
        "alreadyKnown": report.already_known,
        "malformed": report.malformed,
        "malformedExamples": [{"line": n, "text": t} for n, t in report.malformed_examples],
    }


def upload_id_lines(components: Components, data: bytes) -> UploadReport:
    """``reingest ids upload`` on an uploaded file."""
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace")
    return upload_ids(components.progress, lines)


@router.post("/admin/ids", summary="Add ids (the body: one per line) at NotStarted")
async def add_ids(request: Request, components: ComponentsDep) -> dict[str, Any]:
    data = await read_body(request, components.settings.max_upload_bytes)
    report = await run_in_threadpool(upload_id_lines, components, data)
    return report_json(report)


def publish_body(components: Components, priority: Priority, data: bytes) -> PublishReport:
    """``reingest publish`` on an uploaded file."""
    return publish_lines(components.streams, priority, io.BytesIO(data))


@router.post("/admin/publish", summary="Post Grid UpdateMessages (the body: one per line)")
async def publish(
    request: Request, components: ComponentsDep, priority: Priority = Priority.HIGH
) -> dict[str, Any]:
    data = await read_body(request, components.settings.max_upload_bytes)
    report = await run_in_threadpool(publish_body, components, priority, data)
    return {
        "published": report.published,
        "malformed": report.malformed,
        "malformedExamples": [
            {"line": n, "problem": problem} for n, problem in report.malformed_examples
        ],
    }
