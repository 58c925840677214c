"""The Audit panel's repair button: ``reingest audit --repair`` run in the server.

The last report keeps counts and a few example ids only (it must stay small at any library
size), and a sample's findings are an estimate of the whole, so repairing "what the last
report found" cannot be done from the report: the button runs a fresh audit of every original
with repair, in the background, which queues exactly the missing and drifted ids and becomes
the new last report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from ...audit import LAST_REPORT, Auditor, AuditReport, save_report
from ...backends import Components
from ..auth import require_login
from ..deps import ComponentsDep, TasksDep
from ..forms import answered, confirmed, task_outcome

pages = APIRouter(
    tags=["dashboard"], include_in_schema=False, dependencies=[Depends(require_login)]
)

REPAIR_TASK = "audit-repair"


def audit_and_repair(components: Components) -> str:
    """Audit every original, queueing the missing and drifted ids; keep it as the last report."""
    auditor = Auditor(
        components.index,
        components.originals,
        components.local_projector,
        components.settings,
        repair_into=components.progress,
    )
    report = auditor.run()
    save_report(components.settings.home / LAST_REPORT, report)
    return repair_summary(report)


def repair_summary(report: AuditReport) -> str:
    assert report.repair is not None
    repaired = report.repair
    found = (
        f"Audit with repair: {report.checked:,} originals checked, {report.missing.count:,} "
        f"missing, {report.drifted.count:,} drifted"
    )
    if not repaired.queued and not repaired.untouched:
        return f"{found}: nothing to repair."
    return (
        f"{found}: queued {repaired.queued:,} ids at NotStarted ({repaired.added:,} new, "
        f"{repaired.reset:,} reset from an end state), {repaired.untouched:,} already queued or "
        "in flight. Start the scheduler to reingest them; the next audit should be clean."
    )


@pages.post("/dashboard/audit/repair")
def repair(
    components: ComponentsDep, tasks: TasksDep, confirm: Annotated[str, Form()] = ""
) -> Response:
    def act() -> str:
        confirmed(confirm, "repair")
        task, started = tasks.start(REPAIR_TASK, lambda: audit_and_repair(components))
        return task_outcome(
            task, started, "Auditing every original with repair, in the background."
        )

    return answered(act, "audit")
