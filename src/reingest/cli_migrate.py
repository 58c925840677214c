"""``reingest migrate …``: move the index to a new mapping (the verbs of ``migration.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from . import migration
from .batch_index import project_ids
from .cli import JsonFlag, components, dump, fail, live_progress, out
from .index.base import SearchIndex
from .states import State
from .streams.base import Priority

migrate_app = typer.Typer(
    help="Move the index to new mappings with zero downtime (README: Changing the mappings).",
    no_args_is_help=True,
)

YesFlag = Annotated[
    bool, typer.Option("--yes", "-y", help="Skip the typed confirmation (scripts, tests).")
]


def confirm(word: str, what: str, yes: bool) -> None:
    """Ask the operator to type ``word`` before ``what`` (Grid's forms do the same)."""
    if yes:
        return
    try:
        typed = typer.prompt(f"This will {what}. Type {word!r} to go ahead")
    except (EOFError, typer.Abort):
        raise fail(f"no confirmation given: type {word!r} when asked, or pass --yes") from None
    if typed.strip() != word:
        raise fail(f"you typed {typed.strip()!r}, not {word!r}: nothing done")


@migrate_app.command("start")
def start(
    mapping: Annotated[
        Path | None,
        typer.Option(help="JSON mapping of the new index (default: the packaged Grid mapping)."),
    ] = None,
    suffix: Annotated[
        str | None, typer.Option(help="End of the new index's name (default: random).")
    ] = None,
) -> None:
    """Create the new index, point Images_Migration at it and queue every image for it."""
    body: dict[str, Any] | None = None
    if mapping is not None:
        try:
            body = json.loads(mapping.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise fail(f"cannot read the mapping {mapping}: {error}") from None
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise fail(f"{mapping} is not a mapping: expected a JSON object with 'properties'")
    with components() as opened, live_progress() as bar:
        task = bar.add_task("queueing ids", total=None, detail="")
        name = migration.start(
            opened.index,
            opened.progress,
            opened.originals,
            body,
            suffix,
            on_added=lambda n: bar.advance(task, n),
        )
        total = sum(opened.progress.counts().values())
    out.print(
        f"migrating to [bold]{name}[/bold]: {total:,} ids queued; `reingest run` (or the "
        "workers) carries it out, `reingest migrate status` follows it"
    )


@migrate_app.command("queue")
def queue() -> None:
    """Queue the ids of the current index and the store that the progress table lacks (after
    a start interrupted while queueing, or images added since); nothing queued is redone."""
    with components() as opened, live_progress() as bar:
        migration.running(opened.index)  # refuses, saying so, when none runs
        task = bar.add_task("queueing ids", total=None, detail="")
        added = migration.queue_every_id(
            opened.index,
            opened.progress,
            opened.originals,
            on_added=lambda n: bar.advance(task, n),
            again=False,
        )
    out.print(f"{added:,} ids were new to the progress table and are queued")


@migrate_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """The migration's state, indices, counts and progress."""
    with components() as opened:
        report = migration.status(opened.index, opened.progress)
    if as_json:
        dump(report)
        return
    table = Table(title=f"Migration: {report['state']}")
    table.add_column("alias")
    table.add_column("index")
    table.add_column("documents", justify="right")
    for alias in ("current", "migration", "historical"):
        name = report[alias]
        count = report["counts"].get(name) if name else None
        table.add_row(alias, name or "-", "-" if count is None else f"{count:,}")
    out.print(table)
    done = report["progress"]
    out.print(
        f"progress: {done['done']:,} of {done['total']:,} ids ended "
        f"({done['verified']:,} verified, {done['failed']:,} failed)"
    )
    if report["rollback_until"]:
        out.print(f"writes also go to {report['historical']} until {report['rollback_until']}")


#: the switches of a running migration: command → (alias setter, on, what to say, help)
SWITCHES = {
    "pause": (
        migration.set_paused,
        True,
        "paused: `reingest migrate resume` carries on",
        "Stop projecting images for the migration (thrall still writes both indices).",
    ),
    "resume": (migration.set_paused, False, "resumed", "Carry on a paused migration."),
    "preview": (
        migration.set_preview,
        True,
        "searches now use the new index; `reingest migrate unpreview` undoes it",
        "Serve searches from the new index (writes still go to both).",
    ),
    "unpreview": (
        migration.set_preview,
        False,
        "searches use the current index again",
        "Serve searches from the current index again.",
    ),
}


def _switch_command(setter: Callable[[SearchIndex, bool], None], on: bool, said: str) -> Any:
    def switch() -> None:
        with components() as opened:
            setter(opened.index, on)
        out.print(said)

    return switch


for _name, (_setter, _on, _said, _help) in SWITCHES.items():
    migrate_app.command(_name, help=_help)(_switch_command(_setter, _on, _said))


def gates_table(gates: list[migration.Gate]) -> Table:
    table = Table(title="Completion gates")
    table.add_column("gate")
    table.add_column("state")
    table.add_column("detail")
    for gate in gates:
        state = "[green]passed[/green]" if gate.passed else "[red]failed[/red]"
        examples = f" (e.g. {', '.join(gate.examples[:3])})" if gate.examples else ""
        table.add_row(gate.name, state, gate.detail + examples)
    return table


@migrate_app.command("complete")
def complete(
    max_failures: Annotated[
        int, typer.Option(min=0, help="Failed ids allowed (see `reingest failures`).")
    ] = 0,
    rollback_days: Annotated[
        float | None,
        typer.Option(min=0, help="Days writes also go to the old index (default: the setting, 7)."),
    ] = None,
    yes: YesFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Check the gates, then move Images_Current to the new index in one atomic change."""
    with components() as opened:
        checked = migration.gates(opened.index, opened.progress, opened.originals, max_failures)
        if not all(gate.passed for gate in checked):
            if as_json:
                dump({"completed": False, "gates": [gate.to_json() for gate in checked]})
            else:
                out.print(gates_table(checked))
            failed = ", ".join(gate.name for gate in checked if not gate.passed)
            raise fail(f"not completed: gate failed: {failed}")
        confirm("complete", "serve the new index and make the current one historical", yes)
        days = opened.settings.migration_rollback_days if rollback_days is None else rollback_days
        checked = migration.complete(
            opened.index,
            opened.progress,
            opened.originals,
            max_failures,
            timedelta(days=days),
        )
        if not all(gate.passed for gate in checked):  # something changed since the first look
            raise fail("not completed: a gate failed on the final check; run it again")
        report = migration.status(opened.index, opened.progress)
    if as_json:
        dump({"completed": True, "gates": [gate.to_json() for gate in checked], **report})
    else:
        out.print(gates_table(checked))
        out.print(
            f"completed: {report['current']} is current; {report['historical']} keeps "
            f"receiving writes until {report['rollback_until']} (`reingest migrate rollback`)"
        )


def _confirmed_step(
    word: str,
    what: Callable[[migration.Aliases], str | None],
    step: Callable[[SearchIndex], str],
    said: str,
    yes: bool,
) -> None:
    """Ask for ``word`` (describing ``what`` the aliases say will happen), then take the step
    and say what it returned. When ``what`` sees nothing to do, the step is taken at once: it
    refuses, saying why."""
    with components() as opened:
        description = what(migration.Aliases.read(opened.index))
        if description is not None:
            confirm(word, description, yes)
        name = step(opened.index)
    out.print(said.format(name))


@migrate_app.command("rollback")
def rollback(yes: YesFlag = False) -> None:
    """Serve the previous index again (it received every write since completion)."""
    _confirmed_step(
        "rollback",
        lambda aliases: (
            f"serve {aliases.historical} again instead of {aliases.current}"
            if aliases.historical and not aliases.migration
            else None
        ),
        migration.rollback,
        "rolled back: {} is current again",
        yes,
    )


@migrate_app.command("abandon")
def abandon(yes: YesFlag = False) -> None:
    """Stop a running migration and delete its index (the current index never changed)."""
    _confirmed_step(
        "abandon",
        lambda aliases: (
            f"stop the migration and delete {aliases.migration}" if aliases.migration else None
        ),
        migration.abandon,
        "abandoned: {} deleted",
        yes,
    )


@migrate_app.command("cleanup")
def cleanup(
    force: Annotated[bool, typer.Option(help="Delete it even inside the rollback window.")] = False,
) -> None:
    """Delete the historical index once its rollback window is over."""
    with components() as opened:
        name = migration.cleanup(opened.index, force)
    out.print(f"deleted {name}")


@migrate_app.command("image")
def image(image_id: str) -> None:
    """Project one image now and post it on the high-priority stream (into both indices)."""
    with components() as opened:
        [projected] = project_ids(opened.projector, [image_id], opened.settings)
        if projected.outcome.state is not State.Enqueued or projected.payload is None:
            raise fail(f"{image_id}: {projected.outcome.state.name}: {projected.outcome.reason}")
        opened.streams.publish(Priority.HIGH, [projected.payload])
    out.print(f"{image_id}: projected and posted; thrall writes it into both indices")
