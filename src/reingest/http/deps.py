"""Dependencies that hand routes what ``create_app`` put on the app (no module globals)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..backends import Components
from .control import Scheduler, Tasks, ThroughputSampler


def get_components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


def get_scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


def get_sampler(request: Request) -> ThroughputSampler:
    sampler: ThroughputSampler = request.app.state.sampler
    return sampler


def get_tasks(request: Request) -> Tasks:
    tasks: Tasks = request.app.state.tasks
    return tasks


def base_url(request: Request) -> str:
    """Where this server is reached, for the ``uri`` of Argo entities."""
    return str(request.base_url).rstrip("/")


ComponentsDep = Annotated[Components, Depends(get_components)]
SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]
SamplerDep = Annotated[ThroughputSampler, Depends(get_sampler)]
TasksDep = Annotated[Tasks, Depends(get_tasks)]
BaseUrl = Annotated[str, Depends(base_url)]
