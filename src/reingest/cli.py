"""The ``reingest`` command line: a thin face over the services; no domain logic lives here."""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import config
from .backends import Components
from .batch_check import check_batch
from .batch_index import index_batch
from .batching import chunked
from .config import Settings, processors_for_cleaners
from .dates import from_epoch
from .errors import ConfigurationError, ImageNotFound, LoaderError, ReingestError
from .ids import queue_full_reindex, upload_ids
from .ingest import ingest_files, iter_files
from .loader import build_image
from .loader.processors import chain
from .metrics import collect, render, write_textfile
from .originals.base import StoredOriginal, UploadRecord, image_id_of
from .publish import publish_lines, replay_dead_letters
from .runner import RunSummary, remaining, run, run_thrall, run_worker
from .services.local import LocalDataServices
from .states import FAILURE_STATES, State
from .streams.base import Priority
from .throttle import published
from .workers import settle_garbage_collector, worker_name

app = typer.Typer(
    help="Rebuild a Grid-style media library's search index from its sources of truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
ids_app = typer.Typer(
    help="Put image ids into the progress table, or dump it.", no_args_is_help=True
)
services_app = typer.Typer(help="Manage the local data services.", no_args_is_help=True)
app.add_typer(ids_app, name="ids")
app.add_typer(services_app, name="services")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def components() -> Iterator[Components]:
    """Open the configured backends; turn reingest's own errors into one clean line."""
    try:
        with Components(Settings.from_env()) as opened:
            yield opened
    except ReingestError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` (the message as plain text: ``reingest[redis]`` is not markup)
    and give the exit to raise."""
    err.print(Text.assemble(("error:", "red"), " ", message), highlight=False)
    return typer.Exit(1)


def bad_lines(count: int, what: str, examples: list[tuple[int, str]]) -> typer.Exit:
    """Say which input lines were set aside (the first few, by line number) and give the exit
    (1) to raise once the good lines are done."""
    lines = ", ".join(f"line {n}: {problem}" for n, problem in examples)
    more = count - len(examples)
    suffix = f" (and {more} more)" if more > 0 else ""
    err.print(Text.assemble((f"{count} {what}", "yellow"), f": {lines}{suffix}"), highlight=False)
    return typer.Exit(1)


def open_text_input(file: str) -> TextIO:
    """A file, or stdin for ``-``, read as UTF-8 whatever the locale (a byte order mark
    skipped, undecodable bytes replaced so they are reported, not fatal)."""
    if file != "-":
        return open(file, encoding="utf-8-sig", errors="replace")
    if sys.stdin is None or sys.stdin.closed:
        raise OSError(errno.EBADF, "standard input is closed: pipe the ids in, or name a file")
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace")


def dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def counts_table(counts: dict[State, int], title: str = "Progress by state") -> Table:
    table = Table(title=title)
    table.add_column("id", justify="right")
    table.add_column("state")
    table.add_column("images", justify="right")
    for state in State:
        if counts.get(state):
            table.add_row(str(state.value), state.name, f"{counts[state]:,}")
    table.add_row("", "[bold]total[/bold]", f"[bold]{sum(counts.values()):,}[/bold]")
    return table


def throttle_table(throttles: list[dict[str, Any]], now: float) -> Table:
    """Each running throttle's rate and why it was last cut (``throttle.published``)."""
    table = Table(title="Throttle (images/s)")
    for column in ("loop", "worker"):
        table.add_column(column)
    for column in ("rate", "bounds", "cuts"):
        table.add_column(column, justify="right")
    table.add_column("last cut")
    for one in throttles:
        cut = "—"
        if one["cutAt"] is not None:
            cut = f"{now - one['cutAt']:.0f}s ago: {one['reason']}"
        bounds = f"{one['minRate']:,g}–{one['maxRate']:,g}"
        table.add_row(
            one["role"], one["worker"], f"{one['rate']:,.1f}", bounds, f"{one['cuts']:,}", cut
        )
    return table


def live_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


# ---------------------------------------------------------------- configuration


@app.callback()
def warn_of_unknown_settings(ctx: typer.Context) -> None:
    # Once per command: a misspelt REINGEST_* name would otherwise leave a default in force
    # without a word (``reingest config`` lists them itself).
    if ctx.invoked_subcommand == "config":
        return
    for name, guess in config.unknown_variables(os.environ):
        message = f"{config.unknown_message(name, guess)} (`reingest config` lists every setting)"
        err.print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False)


@app.command("config")
def config_command(
    as_json: JsonFlag = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's table of settings.")
    ] = False,
) -> None:
    """Every setting: its variables, value (secrets masked), source, default and meaning."""
    if markdown:
        sys.stdout.write(config.markdown_table())
        return
    report = config.report(os.environ)
    if as_json:
        dump(report)
    else:
        table = Table(title="Settings")
        for column in ("variable", "value", "source", "default", "meaning"):
            table.add_column(column, overflow="fold")
        for row in report["settings"]:
            table.add_row(
                "\n".join(row["names"]),
                Text(config.as_text(row["value"]), style="red" if "error" in row else ""),
                row["source"],
                row["default"],
                row["meaning"],
            )
        out.print(table)
    for unknown in report["unknown"]:
        err.print(Text.assemble(("warning:", "yellow"), " ", unknown["message"]), highlight=False)
    errors = [row["error"] for row in report["settings"] if "error" in row]
    for error in errors:
        err.print(Text.assemble(("error:", "red"), " ", error), highlight=False)
    if errors:
        raise typer.Exit(1)


# ---------------------------------------------------------------- library


@app.command()
def quickstart() -> None:
    """Build a sample library (if empty), lose its index, reingest everything, verify."""
    from .quickstart import quickstart as run_quickstart

    with components() as opened, live_progress() as bar:
        settle_garbage_collector()
        tick = _progress_ticker(bar)
        report = run_quickstart(opened, lambda line: bar.console.print(line), tick)
        counts = opened.progress.counts()
        failures = opened.progress.failure_groups(FAILURE_STATES)
    out.print(counts_table(counts, "Reingestion result"))
    _print_failures(failures)
    summary = report.summary
    seconds = summary.seconds if summary else 0.0
    out.print(
        f"{len(report.good)} good originals, {len(report.broken)} broken; "
        f"index rebuilt to {counts.get(State.Verified, 0)} verified documents in {seconds:.1f}s"
    )
    if not report.ok:
        for line in report.unexpected[:20]:
            err.print(f"[red]unexpected:[/red] {line}")
        raise typer.Exit(1)
    out.print("[green]OK[/green]: every good image Verified, every broken one a KnownError.")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    uploaded_by: Annotated[str, typer.Option(help="Recorded as uploadedBy.")] = "reingest",
) -> None:
    """Load originals into the library (what an upload does); unreadable files are refused."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    files = list(iter_files(paths))
    with components() as opened, live_progress() as bar:
        task = bar.add_task("ingesting", total=len(files), detail="")

        def on_file(path: Path, problem: str | None) -> None:
            if problem:
                bar.console.print(f"[yellow]refused[/yellow] {path}: {problem}", highlight=False)
            bar.advance(task)

        projector = opened.local_projector
        report = ingest_files(
            files, opened.originals, projector, opened.streams, uploaded_by, on_file
        )
    out.print(
        f"stored {len(report.stored)} new originals, {len(report.already_stored)} already "
        f"stored, {len(report.failed)} refused"
    )
    if report.failed:
        raise typer.Exit(1)


@app.command("project-file")
def project_file(
    path: Annotated[Path, typer.Argument(help="An image file.")],
    processors: Annotated[
        str | None,
        typer.Option(
            help="Image processors, comma-separated: none, guardian-cleaners, suppliers "
            "[default: REINGEST_PROCESSORS, else guardian-cleaners,suppliers]."
        ),
    ] = None,
    cleaners: Annotated[
        str | None, typer.Option(hidden=True, help="Deprecated: --processors.")
    ] = None,
) -> None:
    """Print the loader's projection of one file as Grid Image JSON."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise fail(f"{path}: {error.strerror or error}") from None
    try:
        if processors is None:
            processors = (
                processors_for_cleaners(cleaners) if cleaners else Settings.from_env().processors
            )
        chosen = chain(processors)
    except ConfigurationError as error:
        raise fail(str(error)) from None
    modified = from_epoch(path.stat().st_mtime)
    upload = UploadRecord(filename=path.name)
    stored = StoredOriginal(image_id_of(data), data, path.absolute().as_uri(), upload, modified)
    try:
        image = build_image(stored, modified, processors=chosen)
    except LoaderError as error:
        raise fail(f"{path}: {error}") from None
    dump(image.to_json())


@app.command()
def project(image_id: Annotated[str, typer.Argument(help="Image id (SHA-1 hex).")]) -> None:
    """Print the full projection of a stored image (loader + data services)."""
    with components() as opened:
        try:
            image = opened.projector.project(image_id)
        except ImageNotFound as error:
            raise fail(str(error)) from None
    dump(image.to_json())


@app.command()
def show(image_id: Annotated[str, typer.Argument(help="Image id.")]) -> None:
    """Print the indexed document of an image (what media-api would return)."""
    with components() as opened:
        document = opened.index.get(image_id)
    if document is None:
        raise fail(f"{image_id} is not in the index")
    dump(document)


@services_app.command("load")
def services_load(
    file: Annotated[Path, typer.Argument(help='JSON: {"<id>": {"usages": [...], ...}}')],
) -> None:
    """Load usages, collections, leases, crops, edits, status and syndication per image."""
    try:
        records = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise fail(f"{file}: {error}") from None
    if not isinstance(records, dict):
        raise fail(f"{file}: expected a JSON object keyed by image id")
    with components() as opened:
        services = opened.services
        if not isinstance(services, LocalDataServices):
            raise fail("services load needs the local (sqlite://) data services")
        loaded = services.load(records.items())
    out.print(f"loaded service data for {loaded} images")


# ---------------------------------------------------------------- progress table


@ids_app.command("upload")
def ids_upload(
    file: Annotated[str, typer.Argument(help="A file of ids, one per line, or - for stdin.")],
) -> None:
    """Add ids at state 0 (NotStarted); malformed lines are reported, repeats ignored."""
    try:
        handle = open_text_input(file)
    except OSError as error:
        raise fail(f"{file}: {error.strerror or error}") from None
    with handle, components() as opened, live_progress() as bar:
        reading = bar.add_task("reading lines", total=None, detail="")
        writing = bar.add_task("writing ids", total=None, detail="in key order")
        try:
            report = upload_ids(
                opened.progress,
                handle,
                on_read=lambda n: bar.advance(reading, n),
                on_written=lambda n: bar.advance(writing, n),
            )
        except OSError as error:  # e.g. no room for the spill files beside the table
            raise fail(
                f"upload stopped: {error}; ids written so far stay, re-run to finish"
            ) from None
    out.print(
        f"{report.valid:,} valid ids: {report.added:,} added, "
        f"{report.already_known:,} already known or repeated"
    )
    if report.malformed:
        examples = [(n, repr(text)) for n, text in report.malformed_examples]
        raise bad_lines(report.malformed, "malformed ids skipped", examples)


@ids_app.command("scan")
def ids_scan(
    out_file: Annotated[str, typer.Argument(metavar="OUT", help="Output file, or - for stdout.")],
) -> None:
    """Dump every id with its numeric state ("id state" lines), streamed."""
    with components() as opened:
        handle = sys.stdout if out_file == "-" else open(out_file, "w", encoding="utf-8")  # noqa: SIM115
        written = 0
        with handle if handle is not sys.stdout else _no_close(handle):
            for image_id, state in opened.progress.scan():
                handle.write(f"{image_id} {state.value}\n")
                written += 1
    if out_file != "-":
        err.print(f"wrote {written:,} ids to {out_file}")


@contextmanager
def _no_close(handle: Any) -> Iterator[Any]:
    yield handle
    handle.flush()


@app.command()
def stats(as_json: JsonFlag = False) -> None:
    """Count ids per state; the rate of each running throttle and why it was last cut."""
    with components() as opened:
        counts = opened.progress.counts()
        throttles = published(opened.settings.home)
    if as_json:
        report: dict[str, Any] = {
            "counts": {s.name: counts[s] for s in State if counts.get(s)},
            "total": sum(counts.values()),
        }
        if throttles:
            report["throttle"] = throttles
        dump(report)
    else:
        out.print(counts_table(counts))
        if throttles:
            out.print(throttle_table(throttles, time.time()))


@app.command()
def reset(
    what: Annotated[
        str | None,
        typer.Argument(
            help="processed (Enqueued, NotFound, InProgress → 0) or known-errors (4 → 0)."
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="Put every id in this state (id or name) back to 0."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Only ids whose failure reason is exactly this.")
    ] = None,
) -> None:
    """Put ids back to NotStarted so the indexer picks them up again."""
    groups = {
        "processed": [State.Enqueued, State.NotFound, State.InProgress],
        "known-errors": [State.KnownError],
    }
    if (what is None) == (state is None):
        raise fail("say what to reset: processed, known-errors, or --state N")
    try:
        states = groups[what] if what is not None else [State.parse(str(state))]
    except KeyError:
        raise fail(f"unknown reset {what!r}; expected processed or known-errors") from None
    except ValueError as error:
        raise fail(str(error)) from None
    with components() as opened:
        moved = opened.progress.reset(states, State.NotStarted, reason)
    out.print(f"reset {moved:,} ids from {', '.join(s.name for s in states)} to NotStarted")


@app.command()
def failures(
    as_json: JsonFlag = False,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Post dead-lettered stream messages again on their stream (after a fix) "
            "and drop them from the dead letters.",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="With --replay: only dead letters with exactly this reason.")
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="With --replay: only this dead letter (repeatable; see --json)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Dead letters to list (default 100), or with --replay at most to post."
        ),
    ] = None,
) -> None:
    """Failures grouped by state and reason, with counts and example ids; dead letters."""
    if replay:
        _replay(reason, ids or [], limit)
        return
    if reason is not None or ids:
        raise fail("--reason and --id choose dead letters to --replay")
    with components() as opened:
        groups = opened.progress.failure_groups(FAILURE_STATES)
        dead = opened.streams.dead_letters(limit or 100)
        dead_count = opened.streams.dead_letter_count()
    if as_json:
        dump(
            {
                "groups": [
                    {
                        "state": g.state.name,
                        "reason": g.reason,
                        "count": g.count,
                        "examples": g.examples,
                    }
                    for g in groups
                ],
                "deadLetters": [
                    {"id": d.id, "priority": str(d.priority), "reason": d.reason} for d in dead
                ],
                "deadLetterCount": dead_count,
            }
        )
        return
    _print_failures(groups)
    if dead:
        out.print(f"{dead_count:,} stream messages dead-lettered, e.g. {dead[0].reason}")


def _replay(reason: str | None, ids: list[str], limit: int | None) -> None:
    with components() as opened, live_progress() as bar:
        task = bar.add_task("replaying dead letters", total=None, detail="")
        replayed = replay_dead_letters(
            opened.streams,
            reason=reason,
            ids=ids,
            limit=limit,
            on_replayed=lambda n: bar.advance(task, n),
        )
        left = opened.streams.dead_letter_count()
    out.print(f"replayed {replayed:,} dead letters; {left:,} left")


@app.command()
def publish(
    file: Annotated[
        str, typer.Argument(help="Grid UpdateMessages, one JSON object per line, or - for stdin.")
    ],
    priority: Annotated[
        Priority, typer.Option(help="The stream: high (Grid's UI stream) or low (automation).")
    ] = Priority.HIGH,
) -> None:
    """Post UpdateMessages onto a stream, in order (e.g. to feed thrall by hand)."""
    try:
        handle = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    except OSError as error:
        raise fail(f"{file}: {error.strerror or error}") from None
    with handle, components() as opened, live_progress() as bar:
        task = bar.add_task("publishing", total=None, detail=f"on the {priority} stream")
        report = publish_lines(
            opened.streams, priority, handle, on_published=lambda n: bar.advance(task, n)
        )
    out.print(f"published {report.published:,} messages on the {priority}-priority stream")
    if report.malformed:
        raise bad_lines(report.malformed, "lines not published", report.malformed_examples)


def _print_failures(groups: list[Any]) -> None:
    if not groups:
        out.print("no failures")
        return
    table = Table(title="Failures")
    for column in ("state", "reason", "count", "examples"):
        table.add_column(column, overflow="fold")
    for group in groups:
        table.add_row(group.state.name, group.reason, f"{group.count:,}", " ".join(group.examples))
    out.print(table)


# ---------------------------------------------------------------- audit


@ids_app.command("from")
def ids_from_command(
    source: Annotated[str, typer.Argument(help="originals, index or progress.")],
    state: Annotated[
        str | None, typer.Option(help="progress only: ids in this state (name or number).")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Only ids starting with this.")] = "",
) -> None:
    """Stream the ids a source holds to stdout, one per line, in id order (for ids upload -)."""
    from .id_sources import ids_from

    try:
        chosen = State.parse(state) if state is not None else None
    except ValueError as error:
        raise fail(str(error)) from None
    with components() as opened:
        try:
            for chunk in chunked(ids_from(opened, source, chosen, prefix.lower()), 10_000):
                sys.stdout.write("\n".join(chunk) + "\n")
        except ValueError as error:
            raise fail(str(error)) from None
        except BrokenPipeError:  # e.g. piped into head: stop quietly (Python's recipe)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@app.command()
def audit(
    sample: Annotated[
        int | None,
        typer.Option(min=1, help="Check a uniform random sample of N originals (not --all)."),
    ] = None,
    check_all: Annotated[
        bool, typer.Option("--all", help="Check every original (the default).")
    ] = False,
    as_json: JsonFlag = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Queue the missing and drifted ids (NotStarted) for reingest run."
        ),
    ] = False,
    delete_orphans: Annotated[
        bool,
        typer.Option(
            "--delete-orphans",
            help="Delete documents whose original is gone (Grid's rule: none with exports or "
            "usages).",
        ),
    ] = False,
    show_id: Annotated[
        str | None, typer.Option("--show", help="Print one image's diff and nothing else.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed of --sample.")] = None,
    every: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Audit again this many seconds after each audit ends, until stopped "
            "(SIGINT/SIGTERM); /metrics and the dashboard show the last report.",
        ),
    ] = None,
) -> None:
    """Find what the index has wrong (missing, orphans, drifted fields, unreadable originals)
    and, if asked, repair only that."""
    if sample is not None and check_all:
        raise fail("--sample and --all are alternatives")
    if show_id is not None:
        _audit_show(show_id, as_json)
        return
    should_stop = _stop_on_signals() if every else (lambda: False)
    rng = random.Random(seed)
    while True:
        _audit_once(sample, rng, as_json, repair, delete_orphans)
        if every is None:
            return
        resume_at = time.monotonic() + every
        while time.monotonic() < resume_at:
            if should_stop():
                return
            time.sleep(min(1.0, resume_at - time.monotonic()))


def _audit_once(
    sample: int | None, rng: random.Random, as_json: bool, repair: bool, delete_orphans: bool
) -> None:
    from .audit import LAST_REPORT, Auditor, save_report

    with components() as opened, live_progress() as bar:
        task = bar.add_task("auditing", total=sample, detail="originals checked")
        auditor = Auditor(
            opened.index,
            opened.originals,
            opened.local_projector,
            opened.settings,
            repair_into=opened.progress if repair else None,
            delete_orphans=delete_orphans,
            on_checked=lambda n: bar.advance(task, n),
        )
        report = auditor.run(sample, rng)
        save_report(opened.settings.home / LAST_REPORT, report)
    if as_json:
        dump(report.to_json())
    else:
        _print_audit(report)


def _audit_show(image_id: str, as_json: bool) -> None:
    from .audit import Kind, inspect

    with components() as opened:
        finding = inspect(
            image_id, opened.index, opened.originals, opened.local_projector, opened.settings
        )
    if finding is None:
        raise fail(f"{image_id} has neither an original nor a document")
    if as_json:
        dump(
            {
                "id": finding.id,
                "kind": str(finding.kind),
                "reason": finding.reason,
                "changes": [change._asdict() for change in finding.changes],
            }
        )
        return
    explain = {
        Kind.CLEAN: "a reingest would change nothing",
        Kind.MISSING: "not in the index: a reingest would insert it",
        Kind.ORPHAN: "its original is gone: the document is an orphan",
        Kind.UNREADABLE: f"the loader cannot read its original: {finding.reason}",
        Kind.FAILED: f"the projection failed: {finding.reason}",
        Kind.DRIFTED: "a reingest would change:",
    }
    out.print(f"{image_id}: {explain[finding.kind]}", highlight=False)
    for change in finding.changes:
        out.print(
            Text(f"  {change.path}: {_brief_value(change.stored)} → {_brief_value(change.written)}")
        )


def _brief_value(value: object, width: int = 80) -> str:
    text = "(absent)" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_audit(report: Any) -> None:
    summary = report.to_json()
    table = Table(title="Audit" + (f" (sample of {report.sample:,})" if report.sample else ""))
    for column in ("", "images", "examples"):
        table.add_column(column, overflow="fold")
    table.add_row("checked", f"{report.checked:,}", "")
    for name in ("missing", "orphans", "drifted"):
        group = getattr(report, name)
        table.add_row(name, f"{group.count:,}", " ".join(group.examples[:3]))
    table.add_row("unreadable", f"{summary['unreadable']:,}", "")
    if summary["failed"]:
        table.add_row("failed", f"{summary['failed']:,}", "")
    out.print(table)
    if report.fields:
        fields = Table(title="Drifted fields")
        for column in ("field", "images", "examples"):
            fields.add_column(column, overflow="fold")
        for path, count in summary["fields"].items():
            fields.add_row(path, f"{count:,}", " ".join(report.fields[path].examples))
        out.print(fields)
    for title, groups in (("Unreadable originals", report.unreadable), ("Failed", report.failed)):
        if groups:
            reasons = Table(title=title)
            for column in ("reason", "images", "examples"):
                reasons.add_column(column, overflow="fold")
            for reason, group in sorted(groups.items(), key=lambda item: -item[1].count):
                reasons.add_row(reason, f"{group.count:,}", " ".join(group.examples))
            out.print(reasons)
    for image_id, changes in report.diffs.items():
        out.print(f"[bold]{image_id}[/bold] (stored → reingest would write)")
        for change in changes:
            out.print(
                Text(
                    f"  {change.path}: {_brief_value(change.stored)} → "
                    f"{_brief_value(change.written)}"
                )
            )
    if report.repair is not None:
        repaired = report.repair
        out.print(
            f"repair: queued {repaired.queued:,} ids at NotStarted ({repaired.added:,} new, "
            f"{repaired.reset:,} reset from an end state), {repaired.untouched:,} already "
            "queued or in flight; now run: reingest run"
        )
    if report.orphans_deleted is not None:
        kept = report.orphans_kept
        out.print(
            f"orphans: deleted {report.orphans_deleted:,}, kept {kept.count:,} with exports "
            f"or usages (Grid's rule){': ' + ' '.join(kept.examples) if kept.count else ''}"
        )
    if report.clean:
        out.print("[green]clean[/green]: the index matches the originals")


# ---------------------------------------------------------------- workers


@app.command()
def reindex() -> None:
    """Queue every stored original and reingest everything (a periodic full reindex)."""
    with components() as opened, live_progress() as bar:
        queued = queue_full_reindex(opened.progress, opened.originals)
        bar.console.print(f"queued {queued.valid:,} originals for a full reindex")
        summary = run(opened, on_tick=_progress_ticker(bar), should_stop=_stop_on_signals())
    out.print(counts_table(summary.counts, "Reindex result"))
    out.print(f"nothing left to do: finished in {summary.seconds:.1f}s")


@app.command("index-batch")
def index_batch_command(as_json: JsonFlag = False) -> None:
    """Run one batch-index: claim a batch, project, post the projections.

    They go on the low-priority stream, or on the migration stream while a migration runs."""
    with components() as opened:
        projector = opened.projector
        report = index_batch(
            opened.progress,
            projector,
            opened.streams,
            opened.settings,
            worker_name("index"),
            opened.index,
        )
    if as_json:
        dump(report.to_json())
    elif report.skipped:
        out.print(f"skipped: {report.skipped}")
    else:
        outcomes = ", ".join(f"{n} {s.name}" for s, n in report.outcomes.items()) or "nothing to do"
        out.print(f"claimed {len(report.claimed)} ids in {report.seconds:.2f}s: {outcomes}")


@app.command("check-batch")
def check_batch_command(as_json: JsonFlag = False) -> None:
    """Run one batch-check: claim enqueued ids and verify they are in the index."""
    with components() as opened:
        report = check_batch(
            opened.progress, opened.index, opened.streams, opened.settings, worker_name("check")
        )
    if as_json:
        dump(report.to_json())
    else:
        outcomes = ", ".join(f"{n} {s.name}" for s, n in report.outcomes.items()) or "nothing to do"
        out.print(f"checked {len(report.claimed)} ids in {report.seconds:.2f}s: {outcomes}")


@app.command("run")
def run_command(
    until_done: Annotated[
        bool,
        typer.Option(
            "--until-done/--keep-running",
            help="Stop once no id is left to index or check (default), or keep waiting for more.",
        ),
    ] = True,
    every: Annotated[
        float | None,
        typer.Option(help="Fire an index batch every SECONDS (like the original's schedule)."),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(help="Keep Prometheus metrics in this textfile while running."),
    ] = None,
) -> None:
    """Loop index → thrall → check, with live progress, and print a summary by state."""
    stop = _stop_on_signals()
    with components() as opened, live_progress() as bar:
        settle_garbage_collector()
        tick = _progress_ticker(bar)
        next_write = 0.0

        def on_tick(summary: RunSummary) -> None:
            nonlocal next_write
            tick(summary)
            if metrics_file is not None and time.monotonic() >= next_write:
                write_textfile(metrics_file, collect(opened, summary))
                next_write = time.monotonic() + METRICS_EVERY_SECONDS

        summary = run(opened, until_done=until_done, every=every, on_tick=on_tick, should_stop=stop)
        if metrics_file is not None:
            write_textfile(metrics_file, collect(opened, summary))
        counts = opened.progress.counts()
    out.print(counts_table(counts, "Reingestion summary"))
    if remaining(counts) == 0:
        out.print(
            f"nothing left to do: stopped after {summary.loops} cycles, {summary.seconds:.1f}s"
        )
    else:
        out.print(f"stopped with {remaining(counts):,} ids still in progress")


def _progress_ticker(bar: Progress) -> Callable[[RunSummary], None]:
    """A live bar: ids in an end state out of all ids, with the count per state."""
    task = bar.add_task("reingesting", total=None, detail="")

    def tick(summary: RunSummary) -> None:
        counts = summary.counts
        total = sum(counts.values())
        done = total - remaining(counts)
        bar.update(task, total=total, completed=done, detail=_brief(counts))

    return tick


def _brief(counts: dict[State, int]) -> str:
    return " ".join(f"{s.name}={counts[s]:,}" for s in State if counts.get(s))


def _stop_on_signals() -> Any:
    """SIGTERM/SIGINT end the loop after the current cycle instead of mid-batch."""
    stopping = {"now": False}

    def handler(_signum: int, _frame: object) -> None:
        if stopping["now"]:
            raise KeyboardInterrupt
        stopping["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopping["now"]


@app.command("thrall")
def thrall_command(
    until_done: Annotated[
        bool,
        typer.Option(
            "--until-done", help="Exit once the streams are empty and nothing is left to index."
        ),
    ] = False,
) -> None:
    """Consume the streams (high priority first) and write the search index."""
    with components() as opened:
        settle_garbage_collector()
        applied, dead = run_thrall(opened, until_done=until_done, should_stop=_stop_on_signals())
    out.print(f"applied {applied:,} messages, dead-lettered {dead:,}")


@app.command("worker")
def worker_command(
    role: Annotated[str, typer.Argument(help="index or check")],
    until_done: Annotated[
        bool, typer.Option("--until-done", help="Exit once nothing is left for this worker.")
    ] = False,
) -> None:
    """Run batch-index or batch-check in a loop, as a long-running worker."""
    if role not in ("index", "check"):
        raise fail(f"unknown worker {role!r}; expected index or check")
    with components() as opened:
        settle_garbage_collector()
        outcomes = run_worker(opened, role, until_done=until_done, should_stop=_stop_on_signals())
    summary = ", ".join(f"{n:,} {s.name}" for s, n in outcomes.items()) or "nothing"
    out.print(f"{role} worker stopped: {summary}")


@app.command()
def metrics(
    textfile: Annotated[
        Path | None,
        typer.Option(help="Write to this file (node-exporter textfile) instead of stdout."),
    ] = None,
) -> None:
    """Prometheus metrics: ids per state, stream depth and lag, failures by reason."""
    with components() as opened:
        registry = collect(opened)
        if textfile is None:
            sys.stdout.write(render(registry))
        else:
            write_textfile(textfile, registry)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth", help="Serve without API keys (anyone who can connect may act)."
        ),
    ] = False,
) -> None:
    """Serve Grid's endpoints, the dashboard and /metrics over HTTP (keys: REINGEST_API_KEYS)."""
    import uvicorn

    from .http import create_app

    with components() as opened:
        if not opened.settings.api_keys and not insecure_no_auth:
            raise fail(
                "no API keys: set REINGEST_API_KEYS=key1,key2 (clients send X-Gu-Media-Key), "
                "or pass --insecure-no-auth to serve without authentication"
            )
        if insecure_no_auth:
            err.print(
                "[yellow]warning:[/yellow] serving WITHOUT authentication (--insecure-no-auth)"
            )
        uvicorn.run(create_app(opened, insecure_no_auth=insecure_no_auth), host=host, port=port)


METRICS_EVERY_SECONDS = 5.0


def main() -> None:
    app()


# the migrate commands live in their own module, which uses the helpers above
from .cli_migrate import migrate_app  # noqa: E402

app.add_typer(migrate_app, name="migrate")
