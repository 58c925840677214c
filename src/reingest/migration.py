"""Migration: move the index to a new mapping with zero downtime and nothing lost.

A live index cannot change its mapping, so the images are copied into a new index while
production keeps writing, and the current alias is moved once the new index is complete. The
state lives in aliases, as in Grid (``MigrationStatusProvider``), so every process reads the
same state and every change is one atomic alias change:

- ``Images_Current``: the index every read and write goes through (``SearchIndex.target``);
- ``Images_Migration``: its presence means a migration runs; it names the new index;
- ``MIGRATION_PAUSED`` / ``MIGRATION_COMPLETION_PREVIEW`` on the new index: paused, previewed;
- ``Images_Historical``: the previous index once a migration completed, and
  ``MIGRATION_ROLLBACK_UNTIL_<UTC time>`` on it while writes still go to it (the rollback
  window), so a rollback loses no edit.

While a migration runs, thrall mirrors every write into the new index (``index.mirroring``: the
copy is the current document after the write, so no edit is lost whichever way a race goes),
and every id of the current index and of the originals store goes through the progress table
like any reingestion: batch-index projects it and posts it on the migration stream (lowest
priority), thrall writes it into both indices, the checker verifies it in the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .batching import chunked
from .dates import now_iso
from .errors import AliasesMoved, ConfigurationError
from .id_sources import merge_ids
from .index.base import AliasChange, SearchIndex, new_index_name
from .index.documents import COPY_AS_IS, DocumentUpdate
from .index.mirroring import Mirror
from .originals.base import OriginalsStore
from .progress.base import ProgressTable
from .states import ACTIVE_STATES, FAILURE_STATES, TERMINAL_STATES, State

MIGRATION = "Images_Migration"
HISTORICAL = "Images_Historical"
PAUSED = "MIGRATION_PAUSED"
PREVIEW = "MIGRATION_COMPLETION_PREVIEW"
ROLLBACK_UNTIL = "MIGRATION_ROLLBACK_UNTIL_"
_ROLLBACK_FORMAT = "%Y-%m-%d_%H-%M-%S"
#: how many example ids a failed gate lists
EXAMPLES = 10
#: ids looked up in the progress table at once while the gates sort absent images out
LOOKUP_CHUNK = 500


class MigrationState(StrEnum):
    """Grid's ``MigrationStatus`` names."""

    NotRunning = "NotRunning"
    InProgress = "InProgress"
    Paused = "Paused"
    CompletionPreview = "CompletionPreview"


@dataclass(frozen=True)
class Aliases:
    """The migration's state as the aliases tell it."""

    current: str | None
    migration: str | None = None
    historical: str | None = None
    paused: bool = False
    preview: bool = False
    #: end of the rollback window (writes go to the historical index until then)
    rollback_until: datetime | None = None

    @classmethod
    def read(cls, index: SearchIndex) -> Aliases:
        aliases = index.aliases()

        def one(alias: str) -> str | None:
            names = aliases.get(alias, [])
            if len(names) > 1:
                raise ConfigurationError(f"alias {alias} points at {len(names)} indices: {names}")
            return names[0] if names else None

        migration, historical = one(MIGRATION), one(HISTORICAL)
        until = [
            datetime.strptime(alias[len(ROLLBACK_UNTIL) :], _ROLLBACK_FORMAT).replace(tzinfo=UTC)
            for alias, names in aliases.items()
            if alias.startswith(ROLLBACK_UNTIL) and historical in names
        ]
        current = aliases.get(index.target, [index.target])
        return cls(
            current=current[0] if len(current) == 1 else None,
            migration=migration,
            historical=historical,
            paused=migration is not None and migration in aliases.get(PAUSED, []),
            preview=migration is not None and migration in aliases.get(PREVIEW, []),
            rollback_until=max(until, default=None),
        )

    @property
    def state(self) -> MigrationState:
        if self.migration is None:
            return MigrationState.NotRunning
        if self.preview:
            return MigrationState.CompletionPreview
        return MigrationState.Paused if self.paused else MigrationState.InProgress

    def mirrors(self, now: datetime) -> list[Mirror]:
        """Where thrall's writes go besides the current index: the migration index (marked as
        Grid marks it), and the previous index during the rollback window."""
        mirrors = [Mirror(self.migration, MIGRATION, marks=True)] if self.migration else []
        if self.historical and self.rollback_until and now < self.rollback_until:
            mirrors.append(Mirror(self.historical, HISTORICAL))
        return mirrors


#: how many times a write is planned again when a migration step moves an alias meanwhile
PLAN_TRIES = 5


def write(index: SearchIndex, updates: Sequence[DocumentUpdate]) -> set[str]:
    """``index.apply`` with the mirrors the aliases ask for now (read on every write: cheap,
    and never stale), planned again if a migration step moved an alias meanwhile. Every
    writer of documents goes through here, so no write misses a migration."""
    for _attempt in range(PLAN_TRIES - 1):
        try:
            return index.apply(updates, Aliases.read(index).mirrors(datetime.now(UTC)))
        except AliasesMoved:
            continue
    return index.apply(updates, Aliases.read(index).mirrors(datetime.now(UTC)))


def verification_index(index: SearchIndex) -> SearchIndex:
    """Where the checker looks for a projection: the migration index while one runs."""
    migration = Aliases.read(index).migration
    return index.using(migration) if migration else index


def search_index(index: SearchIndex) -> SearchIndex:
    """Where searches go: the migration index in completion preview (Grid's rule)."""
    aliases = Aliases.read(index)
    return index.using(aliases.migration) if aliases.migration and aliases.preview else index


# -- the operator's verbs


def start(
    index: SearchIndex,
    progress: ProgressTable,
    originals: OriginalsStore,
    mapping: dict[str, Any] | None = None,
    suffix: str | None = None,
    on_added: Callable[[int], None] | None = None,
) -> str:
    """Create the new index (``mapping``, or the packaged one), point ``Images_Migration`` at
    it, and queue every id of the current index and of the originals store (end states are
    reset to NotStarted). Returns the new index's name."""
    aliases = Aliases.read(index)
    if aliases.migration:
        raise ConfigurationError(f"a migration to {aliases.migration} is already running")
    if aliases.current is None:
        raise ConfigurationError(f"{index.target} names no single index to migrate from")
    name = new_index_name(datetime.now(UTC), suffix)
    index.create_index(name, mapping, aliases=[MIGRATION])
    queue_every_id(index, progress, originals, on_added)
    return name


def queue_every_id(
    index: SearchIndex,
    progress: ProgressTable,
    originals: OriginalsStore,
    on_added: Callable[[int], None] | None = None,
    again: bool = True,
) -> int:
    """Every id of the current index and of the store into the progress table at NotStarted
    (Grid scrolls the current index only, so an image missing from it is never repaired);
    ``again``: ids already in an end state too (a new migration redoes them). Returns how
    many ids were new to the table."""
    index.refresh()  # listing ids is near-real-time: every write so far is listed
    ids = (image_id for image_id, _, _ in merge_ids(originals.ids(), index.ids()))
    added = progress.add(ids, on_added)
    if again:
        progress.reset(TERMINAL_STATES, State.NotStarted)
    return added


def set_paused(index: SearchIndex, paused: bool) -> None:
    _toggle(index, PAUSED, paused)


def set_preview(index: SearchIndex, preview: bool) -> None:
    _toggle(index, PREVIEW, preview)


def _toggle(index: SearchIndex, alias: str, on: bool) -> None:
    migration = running(index)
    has = migration in index.aliases().get(alias, [])
    if on != has:
        index.change_aliases([AliasChange("add" if on else "remove", alias, migration)])


def running(index: SearchIndex) -> str:
    """The migration index, or ConfigurationError saying none runs."""
    migration = Aliases.read(index).migration
    if migration is None:
        raise ConfigurationError("no migration is running (start one: reingest migrate start)")
    return migration


@dataclass
class Gate:
    name: str
    passed: bool
    detail: str
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "examples": self.examples,
        }


def gates(
    index: SearchIndex, progress: ProgressTable, originals: OriginalsStore, max_failures: int
) -> list[Gate]:
    """What ``complete`` checks, each with what it found."""
    return _check(index, progress, originals, max_failures)[0]


def _check(
    index: SearchIndex, progress: ProgressTable, originals: OriginalsStore, max_failures: int
) -> tuple[list[Gate], _Absent]:
    """The gates, and the images of the current index the new one lacks (the ids of failed
    ones kept up to ``max_failures``: all of them whenever the failures gate passes)."""
    migration = running(index)
    counts = progress.counts()
    active = sum(counts.get(state, 0) for state in ACTIVE_STATES)
    failed = sum(counts.get(state, 0) for state in FAILURE_STATES)
    absent = _absent_from(index, index.using(migration), originals, progress, max_failures)
    checked = [
        Gate(
            "every id ended",
            active == 0,
            f"{active} ids still to do" if active else "every id is in an end state",
        ),
        _holds_every_image(migration, absent),
        Gate(
            "failures under the threshold",
            failed <= max_failures,
            f"{failed} failed ids (at most {max_failures} allowed; see reingest failures)",
        ),
    ]
    return checked, absent


def _holds_every_image(migration: str, absent: _Absent) -> Gate:
    """Passed when every image of the current index is in the new one, but for those whose
    original is gone (left out) and those whose projection failed (copied as they are when
    the migration completes: the failures gate decides whether that is acceptable)."""
    missing, gone, failed = absent.missing, absent.gone, absent.failed
    detail = (
        f"{missing.count} images of the current index are not in {migration}"
        if missing.count
        else f"{migration} holds every image of the current index"
    )
    if failed.count:
        detail += f"; {failed.count} whose projection failed are copied as they are on completion"
    if gone.count:
        detail += f"; {gone.count} whose original is gone are left out"
    return Gate(
        "the new index holds every image",
        not missing.count,
        detail,
        missing.examples or failed.examples[:EXAMPLES] or gone.examples,
    )


@dataclass
class _Tally:
    count: int = 0
    examples: list[str] = field(default_factory=list)
    #: how many ids to keep
    keep: int = EXAMPLES

    def add(self, image_id: str) -> None:
        self.count += 1
        if len(self.examples) < self.keep:
            self.examples.append(image_id)


@dataclass
class _Absent:
    """Images of the current index the new one lacks, by why."""

    #: with an original and not failed: the migration has not copied them
    missing: _Tally = field(default_factory=_Tally)
    #: their original is gone (a reingest would never bring them back): left out
    gone: _Tally = field(default_factory=_Tally)
    #: with an original whose projection failed (unreadable, too big...): copied as they are
    #: on completion (kept up to the failures threshold, which bounds how many complete copies)
    failed: _Tally = field(default_factory=_Tally)


def _absent_from(
    current: SearchIndex,
    migration: SearchIndex,
    originals: OriginalsStore,
    progress: ProgressTable,
    keep_failed: int,
) -> _Absent:
    """A sorted merge of both indices' ids (memory flat at any size, but for up to
    ``keep_failed`` failed ids); the ids only the current one holds are sorted out by their
    original and their progress state."""
    absent = _Absent(failed=_Tally(keep=max(EXAMPLES, keep_failed)))
    current.refresh()  # listing ids is near-real-time: every write so far is listed
    migration.refresh()
    pending: list[str] = []

    def sort_out() -> None:
        states = {row.id: row.state for row in progress.get(pending)}
        for image_id in pending:
            if not originals.exists(image_id):
                absent.gone.add(image_id)
            elif states.get(image_id) in FAILURE_STATES:
                absent.failed.add(image_id)
            else:
                absent.missing.add(image_id)
        pending.clear()

    for image_id, in_current, in_migration in merge_ids(
        current.ids(), migration.ids(), ("current", "migration")
    ):
        if in_current and not in_migration:
            pending.append(image_id)
            if len(pending) >= LOOKUP_CHUNK:
                sort_out()
    sort_out()
    return absent


def complete(
    index: SearchIndex,
    progress: ProgressTable,
    originals: OriginalsStore,
    max_failures: int = 0,
    rollback_window: timedelta = timedelta(days=7),
) -> list[Gate]:
    """Move ``Images_Current`` to the new index if every gate passes (one atomic change: the
    old index becomes ``Images_Historical`` and keeps receiving writes for
    ``rollback_window``). Images whose projection failed (as many as ``max_failures``
    allows) are first copied into the new index as they are. Returns the gates; nothing
    changes if any failed."""
    checked, absent = _check(index, progress, originals, max_failures)
    if not all(gate.passed for gate in checked):
        return checked
    aliases = Aliases.read(index)
    assert aliases.migration and aliases.current
    if absent.failed.examples:  # as they are in the current index: nothing leaves search
        now = now_iso()
        for chunk in chunked(absent.failed.examples, LOOKUP_CHUNK):
            write(index, [DocumentUpdate(image_id, COPY_AS_IS, now) for image_id in chunk])
        checked = gates(index, progress, originals, max_failures)
        if not all(gate.passed for gate in checked):
            return checked
    until = datetime.now(UTC) + rollback_window
    changes = [*_migration_markers(index, aliases.migration), *_history_markers(index)]
    changes += [
        AliasChange("remove", index.target, aliases.current),
        AliasChange("add", index.target, aliases.migration),
        AliasChange("add", HISTORICAL, aliases.current),
        AliasChange("add", f"{ROLLBACK_UNTIL}{until:{_ROLLBACK_FORMAT}}", aliases.current),
    ]
    index.change_aliases(changes)
    return checked


def rollback(index: SearchIndex) -> str:
    """Serve the previous index again (it received every write since completion): one atomic
    change; the index it replaces becomes ``Images_Historical`` (no window: nothing writes to
    it any more). Returns the index now current."""
    aliases = Aliases.read(index)
    if aliases.migration:
        raise ConfigurationError("a migration is running: abandon it instead of rolling back")
    if not aliases.historical or not aliases.current:
        raise ConfigurationError("no previous index to roll back to (Images_Historical is unset)")
    index.change_aliases(
        [
            *_history_markers(index),
            AliasChange("remove", index.target, aliases.current),
            AliasChange("add", index.target, aliases.historical),
            AliasChange("add", HISTORICAL, aliases.current),
        ]
    )
    return aliases.historical


def abandon(index: SearchIndex) -> str:
    """Stop a migration: its aliases go, then its index (the current one never changed)."""
    migration = running(index)
    index.change_aliases(_migration_markers(index, migration))
    index.delete_index(migration)
    return migration


def cleanup(index: SearchIndex, force: bool = False) -> str:
    """Delete the historical index once its rollback window is over (``force``: before)."""
    aliases = Aliases.read(index)
    if not aliases.historical:
        raise ConfigurationError("there is no historical index to delete")
    if aliases.rollback_until and datetime.now(UTC) < aliases.rollback_until and not force:
        raise ConfigurationError(
            f"the rollback window of {aliases.historical} lasts until "
            f"{aliases.rollback_until:%Y-%m-%d %H:%M:%S} UTC; --force deletes it anyway"
        )
    index.delete_index(aliases.historical)
    return aliases.historical


def _migration_markers(index: SearchIndex, migration: str) -> list[AliasChange]:
    """Removing ``Images_Migration`` and the state aliases on the migration index."""
    on = index.aliases()
    return [
        AliasChange("remove", alias, migration)
        for alias in (MIGRATION, PAUSED, PREVIEW)
        if migration in on.get(alias, [])
    ]


def _history_markers(index: SearchIndex) -> list[AliasChange]:
    """Removing ``Images_Historical`` and its rollback window, wherever they are."""
    return [
        AliasChange("remove", alias, name)
        for alias, names in index.aliases().items()
        if alias == HISTORICAL or alias.startswith(ROLLBACK_UNTIL)
        for name in names
    ]


def status(index: SearchIndex, progress: ProgressTable) -> dict[str, Any]:
    """``migrate status --json``: the state, the indices and their counts, the progress."""
    aliases = Aliases.read(index)
    states = progress.counts()
    total = sum(states.values())
    done = sum(n for state, n in states.items() if state in TERMINAL_STATES)
    return {
        "state": aliases.state.value,
        "current": aliases.current,
        "migration": aliases.migration,
        "historical": aliases.historical,
        "rollback_until": (
            aliases.rollback_until.strftime("%Y-%m-%dT%H:%M:%SZ")
            if aliases.rollback_until
            else None
        ),
        "counts": {
            name: index.using(name).count()
            for name in (aliases.current, aliases.migration, aliases.historical)
            if name
        },
        "progress": {
            "total": total,
            "done": done,
            "verified": states.get(State.Verified, 0),
            "failed": sum(states.get(state, 0) for state in FAILURE_STATES),
            "states": {state.name: n for state, n in sorted(states.items()) if n},
        },
    }
