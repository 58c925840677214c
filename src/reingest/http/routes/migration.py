"""The migration over HTTP: ``GET /admin/migration`` and the dashboard panel's actions, the
verbs of ``migration.py`` as ``reingest migrate`` runs them (README: Changing the mappings).

The completion gates list both indices' ids and look up the original of every image the new
index lacks, which at the start of a migration is every image: far too costly for each page
load or scrape. So they are checked in the background, at most every ``GATES_EVERY_SECONDS``
and never for more than a tenth of the time, and shown with when they were checked; ``complete``
always checks them afresh before it moves an alias.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from ... import migration
from ...backends import Components
from ...batch_index import project_ids
from ...errors import ConfigurationError
from ...ids import normalise_id
from ...index.base import SearchIndex
from ...states import State
from ...streams.base import Priority
from ..auth import require_key, require_login
from ..control import Task, Tasks, ThroughputSampler, eta, failure_groups
from ..deps import ComponentsDep, SamplerDep, TasksDep
from ..errors import ApiError
from ..forms import QUICK_SECONDS, Refused, answered, confirmed, task_outcome

router = APIRouter(tags=["admin"], dependencies=[Depends(require_key)])
pages = APIRouter(
    tags=["dashboard"], include_in_schema=False, dependencies=[Depends(require_login)]
)

START_TASK = "migration-start"
GATES_TASK = "migration-gates"
#: the gates are checked again at most this often while someone looks…
GATES_EVERY_SECONDS = 60.0
#: …and at most a tenth of the time (a check that took 10 minutes waits 100)
GATES_COST_SHARE = 10.0


def gates_task(running: str) -> str:
    """One task name per migration, so no check of an earlier one is shown for it."""
    return f"{GATES_TASK}:{running}"


def check_gates(components: Components, tasks: Tasks, running: str) -> Task:
    """Start a check of ``running``'s gates (with ``complete``'s default, no failure allowed),
    or hand back the one under way."""
    task, _ = tasks.start(
        gates_task(running),
        lambda: migration.gates(components.index, components.progress, components.originals, 0),
    )
    return task


def stale(check: Task | None, now: float) -> bool:
    """No check yet, or the last ended longer ago than the rule above allows."""
    if check is None:
        return True
    if check.finished_at is None:  # under way
        return False
    took = check.finished_at - check.started_at
    return now - check.finished_at > max(GATES_EVERY_SECONDS, GATES_COST_SHARE * took)


def latest_gates(
    components: Components, tasks: Tasks, running: str, fresh: bool = False
) -> dict[str, Any]:
    """The last ended check of the gates, starting a new one when it is stale (``fresh``:
    waits for a check started now)."""
    name = gates_task(running)
    if fresh:
        if (under_way := tasks.last(name)) is not None:
            under_way.wait()
        check_gates(components, tasks, running).wait()
    elif stale(tasks.ended(name), time.time()):
        check_gates(components, tasks, running)
    ended, last = tasks.ended(name), tasks.last(name)
    return {
        "gates": (
            [gate.to_json() for gate in ended.result]
            if ended is not None and ended.error is None
            else None
        ),
        "gatesCheckedAt": ended.finished_at if ended else None,
        "gatesError": ended.error if ended else None,
        "gatesChecking": last is not None and last.running,
    }


def migration_view(
    components: Components, sampler: ThroughputSampler, tasks: Tasks, fresh: bool = False
) -> dict[str, Any]:
    """``migrate status --json``, the gates while a migration runs, the ETA of the ids left
    (from the dashboard's throughput samples), and the last start's outcome."""
    report = migration.status(components.index, components.progress)
    progress = report["progress"]
    rate = sampler.rate()
    running = report["migration"]
    gates = (
        latest_gates(components, tasks, running, fresh)
        if running
        else {"gates": None, "gatesCheckedAt": None, "gatesError": None, "gatesChecking": False}
    )
    start = tasks.last(START_TASK)
    return {
        **report,
        **gates,
        "ratePerSecond": rate,
        "etaSeconds": eta(progress["total"] - progress["done"], progress["total"], rate),
        "start": (
            None
            if start is None
            else {
                "running": start.running,
                "startedAt": start.started_at,
                "finishedAt": start.finished_at,
                "result": start.result,
                "error": start.error,
            }
        ),
    }


def migration_panel(
    components: Components, sampler: ThroughputSampler, tasks: Tasks
) -> dict[str, Any]:
    """The dashboard's view: aliases that name no single index are shown in the panel
    instead of breaking the whole page."""
    try:
        return migration_view(components, sampler, tasks)
    except ConfigurationError as error:
        return {"problem": str(error)}


@router.get("/admin/migration", summary="Migration state, indices, progress, gates and failures")
def status(
    components: ComponentsDep, sampler: SamplerDep, tasks: TasksDep, fresh: bool = False
) -> dict[str, Any]:
    """``fresh=true`` waits for the gates to be checked now instead of the last check's."""
    return {
        **migration_view(components, sampler, tasks, fresh),
        "failures": failure_groups(components),
    }


# ---------------------------------------------------------------- the panel's actions


def start(components: Components, tasks: Tasks, form: MigrationForm) -> str:
    confirmed(form.confirm, "start")

    def queue() -> str:
        name = migration.start(components.index, components.progress, components.originals)
        total = sum(components.progress.counts().values())
        return (
            f"Migrating to {name}: {total:,} ids queued. Start the scheduler (or run "
            "reingest run, or the workers) to carry it out."
        )

    task, started = tasks.start(START_TASK, queue)
    return task_outcome(
        task, started, "Starting the migration: every id is being queued in the background."
    )


def switch(set_on: Callable[[SearchIndex, bool], None], on: bool, notice: str) -> Action:
    """Pause/resume, preview/unpreview: one alias on the migration index, added or removed."""

    def act(components: Components, _tasks: Tasks, _form: MigrationForm) -> str:
        set_on(components.index, on)
        return notice

    return act


def complete(components: Components, _tasks: Tasks, form: MigrationForm) -> str:
    confirmed(form.confirm, "complete")
    checked = migration.complete(
        components.index,
        components.progress,
        components.originals,
        form.max_failures,
        timedelta(days=components.settings.migration_rollback_days),
    )
    failed = [gate for gate in checked if not gate.passed]
    if failed:
        reasons = "; ".join(f"{gate.name} ({gate.detail})" for gate in failed)
        raise Refused(f"Not completed: gate failed: {reasons}")
    report = migration.status(components.index, components.progress)
    return (
        f"Completed: {report['current']} is current; {report['historical']} keeps receiving "
        f"writes until {report['rollback_until']}, so a rollback loses nothing until then."
    )


def rollback(components: Components, _tasks: Tasks, form: MigrationForm) -> str:
    confirmed(form.confirm, "rollback")
    return f"Rolled back: {migration.rollback(components.index)} is current again."


def abandon(components: Components, _tasks: Tasks, form: MigrationForm) -> str:
    confirmed(form.confirm, "abandon")
    name = migration.abandon(components.index)
    return f"Abandoned: {name} is deleted; the current index never changed."


def cleanup(components: Components, _tasks: Tasks, _form: MigrationForm) -> str:
    return f"Deleted {migration.cleanup(components.index)}."


def image(components: Components, _tasks: Tasks, form: MigrationForm) -> str:
    """``migrate image ID``: project one image now and post it on the high-priority stream."""
    image_id = normalise_id(form.image_id)
    if image_id is None:
        raise Refused(f"{form.image_id.strip()!r} is not an image id (40 hex digits)")
    [projected] = project_ids(components.projector, [image_id], components.settings)
    if projected.outcome.state is not State.Enqueued or projected.payload is None:
        outcome = projected.outcome
        raise Refused(f"{image_id} not migrated: {outcome.state.name}: {outcome.reason}")
    components.streams.publish(Priority.HIGH, [projected.payload])
    return f"{image_id}: projected and posted; thrall writes it into both indices."


def check(components: Components, tasks: Tasks, _form: MigrationForm) -> str:
    running = migration.Aliases.read(components.index).migration
    if running is None:
        raise Refused("no migration is running: there are no gates to check")
    task = check_gates(components, tasks, running)
    if not task.wait(QUICK_SECONDS):
        return "Checking the gates in the background."
    if task.error is not None:
        raise Refused(task.error)
    failed = [gate.name for gate in task.result if not gate.passed]
    return f"Gates checked: {'failed: ' + ', '.join(failed) if failed else 'every gate passes'}."


class MigrationForm:
    """The fields the panel's forms send (each action reads those it needs)."""

    def __init__(
        self,
        confirm: Annotated[str, Form()] = "",
        max_failures: Annotated[int, Form(ge=0)] = 0,
        image_id: Annotated[str, Form()] = "",
    ) -> None:
        self.confirm, self.max_failures, self.image_id = confirm, max_failures, image_id


Action = Callable[[Components, Tasks, MigrationForm], str]
ACTIONS: dict[str, Action] = {
    "start": start,
    "pause": switch(
        migration.set_paused,
        True,
        "Paused: no image is projected for the migration; thrall still writes both indices.",
    ),
    "resume": switch(migration.set_paused, False, "Resumed."),
    "preview": switch(
        migration.set_preview, True, "Searches now use the new index (writes still go to both)."
    ),
    "unpreview": switch(migration.set_preview, False, "Searches use the current index again."),
    "complete": complete,
    "rollback": rollback,
    "abandon": abandon,
    "cleanup": cleanup,
    "image": image,
    "check": check,
}


@pages.post("/dashboard/migration/{action}")
def act(
    action: str,
    components: ComponentsDep,
    tasks: TasksDep,
    form: Annotated[MigrationForm, Depends()],
) -> Response:
    verb = ACTIONS.get(action)
    if verb is None:
        raise ApiError(404, "invalid-action", f"action is one of {', '.join(ACTIONS)}")
    return answered(lambda: verb(components, tasks, form), "migration")
