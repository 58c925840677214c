"""The scheduled Lambdas turn their own EventBridge rule off once nothing is left for them.

The original's how-to ended with "don't forget to turn off the EventBridge source" and wished
the Lambda did it itself; this is that. The rule is named by ``SCHEDULE_RULE_NAME`` (the
template sets it) or read from the scheduled event's ``resources`` ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import BY_KEY, Settings, read
from ..progress.base import ProgressTable
from ..progress.dynamodb import aws_client
from ..states import ACTIVE_STATES, State

RULE_NAME_VARIABLE = BY_KEY["schedule_rule_name"].names[0].env


@dataclass(frozen=True)
class Rule:
    name: str
    #: None for the default event bus
    bus: str | None = None


def waits_for(role: str, settings: Settings) -> frozenset[State]:
    """States that still mean work for a role. The indexer waits for its start state and its
    own claims; the checker for anything not yet settled, since ids still being indexed will
    become Enqueued later (stopping it early would strand them)."""
    if role == "index":
        return frozenset({settings.start_state, State.InProgress})
    if role == "check":
        return ACTIVE_STATES | {settings.checker_start_state}
    raise ValueError(f"unknown role {role!r}")


def nothing_left(progress: ProgressTable, role: str, settings: Settings) -> bool:
    counts = progress.counts()
    return not any(counts.get(state) for state in waits_for(role, settings))


def own_rule(event: Mapping[str, Any], environ: Mapping[str, str]) -> Rule | None:
    """The rule that fired this invocation: ``SCHEDULE_RULE_NAME``, else the event's
    ``resources`` ARN (``arn:aws:events:…:rule/NAME`` or ``…:rule/BUS/NAME``)."""
    if name := read("schedule_rule_name", environ):
        return Rule(name)
    for arn in event.get("resources") or ():
        _, found, path = str(arn).partition(":rule/")
        if found and path:
            bus, _, name = path.rpartition("/")
            return Rule(name, bus or None)
    return None


def disable(rule: Rule, client: Any | None = None) -> None:
    """``events:DisableRule``; the schedule is turned back on by hand (deploy/README.md)."""
    events = client if client is not None else aws_client("events", "")
    extra = {"EventBusName": rule.bus} if rule.bus else {}
    events.disable_rule(Name=rule.name, **extra)
