"""What the dashboard's action forms share: a typed confirmation before anything that moves the
index, refusals shown on the page instead of an error page, and long operations answered with
their result when they end quickly, or left to run in the background."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse

from ..errors import ReingestError
from .control import Task

#: how long an action waits for its task before answering that it runs in the background
QUICK_SECONDS = 2.0


class Refused(ReingestError):
    """An action the operator asked for that was not done, with why."""


def confirmed(typed: str, word: str) -> None:
    """The operator typed ``word`` (as ``reingest migrate`` asks on the terminal)."""
    if typed.strip() != word:
        raise Refused(f"type {word!r} in the confirmation box to go ahead; nothing done")


def answered(action: Callable[[], str], anchor: str) -> RedirectResponse:
    """Post/redirect/get to the dashboard's panel ``anchor``: the action's notice, or, when
    it was refused (a ``ReingestError``: a gate failed, no migration runs…), its reason shown
    as an error."""
    try:
        query = {"notice": action()}
    except ReingestError as refusal:
        query = {"error": str(refusal)}
    return RedirectResponse(f"/?{urlencode(query)}#{anchor}", status_code=303)


def task_outcome(task: Task, started: bool, running: str) -> str:
    """The result of a task that ended within ``QUICK_SECONDS`` (its error raised as a
    refusal), else ``running``, saying it goes on in the background."""
    if not started:
        return f"{running} (already under way)"
    if not task.wait(QUICK_SECONDS):
        return running
    if task.error is not None:
        raise Refused(task.error)
    return str(task.result)
