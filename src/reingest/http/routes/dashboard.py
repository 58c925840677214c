"""The dashboard: a server-rendered page over the same calls as ``/admin`` and the CLI, with a
login form that trades an API key for a session cookie (browsers cannot send our header)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ...audit import last_report
from ...config import as_text, report
from ...states import State
from ..auth import SESSION_COOKIE, SESSION_SECONDS, Auth, require_login, same_origin
from ..control import overview
from ..deps import ComponentsDep, SamplerDep, SchedulerDep, TasksDep
from ..errors import ApiError
from .admin import reset_states, upload_id_lines
from .audit import REPAIR_TASK
from .migration import migration_panel

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
router = APIRouter(tags=["dashboard"], include_in_schema=False)
pages = APIRouter(
    tags=["dashboard"], include_in_schema=False, dependencies=[Depends(require_login)]
)

CHART_WIDTH, CHART_HEIGHT = 640, 150
#: states drawn in the progress bar, in the order a run moves ids through them
BAR_STATES = [
    State.Verified,
    State.Enqueued,
    State.Locating,
    State.InProgress,
    State.NotFound,
    State.KnownError,
    State.Inconsistent,
    State.UnknownError,
    State.TooBig,
]


def duration(seconds: float | None) -> str:
    """3h 05m, 4m 10s, 12s: as a person reads an ETA or a lag."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


templates.env.filters["duration"] = duration
templates.env.filters["as_text"] = as_text


def chart(series: list[tuple[float, float]]) -> dict[str, Any]:
    """An SVG polyline of ids/s over time, scaled to the chart box."""
    if len(series) < 2:
        return {"points": "", "area": "", "max": 0.0, "span": 0.0}
    start, end = series[0][0], series[-1][0]
    top = max(rate for _, rate in series) or 1.0
    span = end - start or 1.0
    xy = [
        (CHART_WIDTH * (at - start) / span, CHART_HEIGHT - CHART_HEIGHT * rate / top * 0.92)
        for at, rate in series
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    area = f"0,{CHART_HEIGHT} {points} {CHART_WIDTH},{CHART_HEIGHT}"
    return {"points": points, "area": area, "max": top, "span": end - start}


def back(notice: str) -> RedirectResponse:
    """Post/redirect/get, with one line saying what happened."""
    return RedirectResponse(f"/?notice={quote(notice)}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    auth: Auth = request.app.state.auth
    if not same_origin(request):  # a login forced on the user by another site's form
        raise ApiError(403, "cross-origin", "cross-origin form posts are not accepted")
    if not auth.valid_key(key):
        context = {"next": safe_next(next), "error": "That key is not valid."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        auth.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    auth: Auth = request.app.state.auth
    auth.end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@pages.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    components: ComponentsDep,
    sampler: SamplerDep,
    scheduler: SchedulerDep,
    tasks: TasksDep,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    view = overview(components, sampler)
    total = view["total"] or 1
    bar = [
        {
            "name": s.name,
            "count": view["counts"].get(s.name, 0),
            "pct": 100 * view["counts"].get(s.name, 0) / total,
        }
        for s in BAR_STATES
        if view["counts"].get(s.name)
    ]
    context = {
        "view": view,
        "states": [s for s in State if view["counts"].get(s.name)],
        "bar": bar,
        "pct": 100 * view["done"] / total,
        "chart": chart(sampler.series()),
        "chart_size": (CHART_WIDTH, CHART_HEIGHT),
        "scheduler": scheduler.status(),
        "notice": notice,
        "error": error,
        "now": time.time(),
        "insecure": request.app.state.auth.insecure_no_auth,
        "audit": last_report(components.settings.home),
        "repair": tasks.last(REPAIR_TASK),
        "migration": migration_panel(components, sampler, tasks),
        "tasks_running": tasks.running,
    }
    return templates.TemplateResponse(request, "dashboard.html", context)


@pages.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, components: ComponentsDep) -> Response:
    """The registry ``reingest config`` prints, with the values this server runs with."""
    context = {"report": report(os.environ, components.settings)}
    return templates.TemplateResponse(request, "settings.html", context)


@pages.post("/dashboard/retry")
def retry(
    components: ComponentsDep,
    state: Annotated[str, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    moved = reset_states(components, [state], reason or None)
    return back(f"Retrying {moved:,} ids from {State.parse(state).name}: {reason}")


@pages.post("/dashboard/scheduler")
async def scheduler_action(
    scheduler: SchedulerDep,
    action: Annotated[str, Form()],
    keep_running: Annotated[bool, Form()] = False,
) -> Response:
    if action == "start":
        started = scheduler.start(until_done=not keep_running)
        return back("Scheduler started." if started else "The scheduler is already running.")
    if action == "stop":
        stopped = await run_in_threadpool(scheduler.stop)
        return back("Scheduler stopped." if stopped else "Stopping after the current cycle.")
    raise ApiError(400, "invalid-action", "action is start or stop")


@pages.post("/dashboard/ids")
async def upload_ids_form(
    components: ComponentsDep, file: Annotated[UploadFile, File()]
) -> Response:
    limit = components.settings.max_upload_bytes
    if file.size is not None and file.size > limit:
        raise ApiError(413, "file-too-large", f"uploads are limited to {limit:,} bytes")
    data = await file.read()
    report = await run_in_threadpool(upload_id_lines, components, data)
    notice = (
        f"{file.filename}: {report.valid:,} valid ids, {report.added:,} added, "
        f"{report.already_known:,} already known or repeated"
    )
    if report.malformed:
        lines = ", ".join(f"line {n}: {text!r}" for n, text in report.malformed_examples[:5])
        notice += f"; {report.malformed:,} malformed skipped ({lines})"
    return back(notice)
