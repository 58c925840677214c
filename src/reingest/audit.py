"""Audit and repair: what the index has wrong against its sources of truth, and only that.

Three id sets are compared as sorted streams merged in O(1) memory (the originals store and the
index both list in id order): an original with no document is **missing**, a document with no
original an **orphan**. For each original checked, the projection a reingest would post is
applied to the stored document with thrall's own rule (``documents.apply_update``) and the
result compared with the stored document: what differs is **drift**, field by field. So a field
a reingest would leave alone (``lastModified``, the fields other services own) is never
reported, and every field reported is one a reingest fixes (``NOT_COMPARED`` says which
fields a reingest does change but are no drift). Originals the loader cannot read are
**unreadable** (a reingest would put them down as KnownError; it cannot fix them).

Projections run in batches with batch-index's machinery (``batch_index.project_ids``), one
``get_many`` per batch. A repair queues exactly the missing and drifted ids in the progress
table; ids in flight are left alone, so a repair never disturbs a running reingest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from . import migration
from .batch_index import project_ids
from .batching import chunked
from .config import Settings
from .dates import now_iso
from .id_sources import merge_ids
from .index.base import SearchIndex
from .index.documents import DELETE_IMAGE, REINGEST_IMAGE, Document, DocumentUpdate, apply_update
from .originals.base import OriginalsStore
from .progress.base import ProgressTable
from .projection import ImageProjector
from .states import TERMINAL_STATES, State

#: example ids kept per group: reports stay small at any library size
EXAMPLES = 10
#: drifted images whose field-by-field diff the report keeps
DIFF_EXAMPLES = 3
#: distinct field paths counted; any further path is counted under OTHER_FIELDS
MAX_FIELDS = 1000
OTHER_FIELDS = "(other fields)"
#: stamped on the update when the stored document has no lastModified
_EPOCH = "1970-01-01T00:00:00.000Z"
#: never compared: ``lastModified`` moves only with messages' times, not their content; the
#: credit suggester is ``metadata.credit`` restated (which is compared), and Grid's upsert
#: inserts a new image without it, so every document's first update would add it
NOT_COMPARED = frozenset({"lastModified", "suggestMetadataCredit"})
#: leaf values that mean "nothing" alike: Grid's edit refresh drops empty strings from
#: ``metadata`` where an insert keeps them, and media-api serves null and absent the same
_NOTHING = (None, "")


class Kind(StrEnum):
    CLEAN = "clean"
    MISSING = "missing"
    DRIFTED = "drifted"
    UNREADABLE = "unreadable"
    #: the projection failed otherwise (a data service down, too big, original gone meanwhile)
    FAILED = "failed"
    #: a document whose original is gone
    ORPHAN = "orphan"


class Change(NamedTuple):
    """One leaf that differs: the stored value and what a reingest would write (None: absent)."""

    path: str
    stored: Any
    written: Any


@dataclass(frozen=True)
class Finding:
    id: str
    kind: Kind
    changes: tuple[Change, ...] = ()
    reason: str | None = None


@dataclass
class Group:
    """A count with a few example ids (like a failure group)."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, image_id: str, examples: int = EXAMPLES) -> None:
        self.count += 1
        if len(self.examples) < examples:
            self.examples.append(image_id)


@dataclass
class RepairReport:
    #: missing and drifted ids put at NotStarted: new rows, and rows reset from an end state
    added: int = 0
    reset: int = 0
    #: already NotStarted, or in flight (InProgress, Enqueued, Locating): left alone
    untouched: int = 0

    @property
    def queued(self) -> int:
        return self.added + self.reset


@dataclass
class AuditReport:
    #: None for --all; else the sample size asked for
    sample: int | None = None
    checked: int = 0
    #: ids with an original (the population a sample is drawn from) and documents listed
    originals: int = 0
    documents: int = 0
    missing: Group = field(default_factory=Group)
    orphans: Group = field(default_factory=Group)
    drifted: Group = field(default_factory=Group)
    fields: dict[str, Group] = field(default_factory=dict)
    unreadable: dict[str, Group] = field(default_factory=dict)
    failed: dict[str, Group] = field(default_factory=dict)
    diffs: dict[str, list[Change]] = field(default_factory=dict)
    repair: RepairReport | None = None
    #: with --delete-orphans: removed, and kept by Grid's rule (exports or usages)
    orphans_deleted: int | None = None
    orphans_kept: Group = field(default_factory=Group)

    @property
    def clean(self) -> bool:
        """Nothing a reingest or an orphan deletion would fix (unreadable originals are not)."""
        return not (self.missing.count or self.orphans.count or self.drifted.count)

    def record(self, finding: Finding) -> None:
        self.checked += 1
        if finding.kind is Kind.MISSING:
            self.missing.add(finding.id)
        elif finding.kind is Kind.DRIFTED:
            self.drifted.add(finding.id)
            for path in dict.fromkeys(change.path for change in finding.changes):
                if path not in self.fields and len(self.fields) >= MAX_FIELDS:
                    path = OTHER_FIELDS
                self.fields.setdefault(path, Group()).add(finding.id, 3)
            if len(self.diffs) < DIFF_EXAMPLES:
                self.diffs[finding.id] = list(finding.changes)
        elif finding.kind in (Kind.UNREADABLE, Kind.FAILED):
            groups = self.unreadable if finding.kind is Kind.UNREADABLE else self.failed
            groups.setdefault(finding.reason or "", Group()).add(finding.id, 3)

    def to_json(self) -> dict[str, Any]:
        def by_count(groups: dict[str, Group]) -> list[tuple[str, Group]]:
            return sorted(groups.items(), key=lambda item: (-item[1].count, item[0]))

        def reasons(groups: dict[str, Group]) -> list[dict[str, Any]]:
            return [
                {"reason": reason, "count": g.count, "examples": g.examples}
                for reason, g in by_count(groups)
            ]

        result: dict[str, Any] = {
            "checked": self.checked,
            "sample": self.sample,
            "missing": self.missing.count,
            "orphans": self.orphans.count,
            "drifted": self.drifted.count,
            "unreadable": sum(g.count for g in self.unreadable.values()),
            "failed": sum(g.count for g in self.failed.values()),
            "fields": {path: g.count for path, g in by_count(self.fields)},
            "examples": {
                "missing": self.missing.examples,
                "orphans": self.orphans.examples,
                "drifted": self.drifted.examples,
                "fields": {path: g.examples for path, g in by_count(self.fields)},
                "diffs": {
                    image_id: [change._asdict() for change in changes]
                    for image_id, changes in self.diffs.items()
                },
            },
            "unreadableReasons": reasons(self.unreadable),
            "failedReasons": reasons(self.failed),
            "originals": self.originals,
            "documents": self.documents,
        }
        if self.repair is not None:
            result["repair"] = {
                "queued": self.repair.queued,
                "added": self.repair.added,
                "reset": self.repair.reset,
                "untouched": self.repair.untouched,
            }
        if self.orphans_deleted is not None:
            result["orphansDeleted"] = self.orphans_deleted
            result["orphansKept"] = {
                "count": self.orphans_kept.count,
                "examples": self.orphans_kept.examples,
            }
        return result


# ---------------------------------------------------------------- id sets


class Reservoir:
    """A uniform random sample of ``size`` items of a stream of unknown length (Algorithm R):
    memory for the sample only."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.items: list[str] = []

    def offer(self, item: str) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (slot := self.rng.randrange(self.seen)) < self.size:
            self.items[slot] = item


# ---------------------------------------------------------------- drift


def drift(stored: Document, projection: Document) -> list[Change]:
    """What a reingest of ``projection`` would change in ``stored``: thrall's rule applied
    (with the stored lastModified, so only the message's content counts), then compared."""
    last_modified = stored.get("lastModified") or _EPOCH
    update = DocumentUpdate.image(projection, last_modified, REINGEST_IMAGE)
    after = apply_update(stored, update) or {}
    before, after = _compared(stored), _compared(after)
    if before == after:  # nearly every document: one comparison in C, no walk
        return []
    return list(diff(before, after))


def _compared(document: Document) -> Document:
    return {k: v for k, v in document.items() if k not in NOT_COMPARED}


def diff(before: Any, after: Any, path: str = "") -> Iterator[Change]:
    """Changed leaves, by dotted path down through objects; lists compare whole at their path.
    An absent key, a null and an empty string are the same (``_NOTHING``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            yield from diff(before.get(key), after.get(key), f"{path}.{key}" if path else key)
    elif before != after and not (before in _NOTHING and after in _NOTHING):
        yield Change(path, before, after)


def findings(
    ids: Sequence[str], index: SearchIndex, projector: ImageProjector, settings: Settings
) -> list[Finding]:
    """Check one batch: project every id as batch-index would, read the stored documents in
    one ``get_many``, and say what a reingest would do to each."""
    stored = index.get_many(ids)
    found = []
    for outcome, _payload, image in project_ids(projector, ids, settings):
        if image is None:
            if outcome.state is State.KnownError:
                found.append(Finding(outcome.id, Kind.UNREADABLE, reason=outcome.reason))
            else:
                reason = f"{outcome.state.name}: {outcome.reason}"
                found.append(Finding(outcome.id, Kind.FAILED, reason=reason))
        elif (document := stored.get(outcome.id)) is None:
            found.append(Finding(outcome.id, Kind.MISSING))
        else:
            changes = tuple(drift(document, image))
            found.append(Finding(outcome.id, Kind.DRIFTED if changes else Kind.CLEAN, changes))
    return found


# ---------------------------------------------------------------- the audit


@dataclass
class Auditor:
    index: SearchIndex
    originals: OriginalsStore
    projector: ImageProjector
    settings: Settings
    #: set to queue missing and drifted ids (--repair)
    repair_into: ProgressTable | None = None
    delete_orphans: bool = False
    #: hears how many originals each checked batch held
    on_checked: Callable[[int], None] | None = None

    def run(self, sample: int | None = None, rng: random.Random | None = None) -> AuditReport:
        """Audit every original (``sample`` None) or a uniform random sample of them; orphans
        are always looked for across the whole index (listing ids costs no projection)."""
        report = AuditReport(sample=sample)
        if self.repair_into is not None:
            report.repair = RepairReport()
        if self.delete_orphans:
            report.orphans_deleted = 0
        reservoir = Reservoir(sample, rng or random.Random()) if sample is not None else None
        batch: list[str] = []
        orphans: list[str] = []
        for image_id, has_original, has_document in merge_ids(
            self.originals.ids(), self.index.ids()
        ):
            report.documents += has_document
            if not has_original:
                orphans.append(image_id)
                if len(orphans) >= self.settings.batch_size:
                    self._orphans(orphans, report)
                    orphans = []
                continue
            report.originals += 1
            if reservoir is not None:
                reservoir.offer(image_id)
            else:
                batch.append(image_id)
                if len(batch) >= self.settings.batch_size:
                    self._check(batch, report)
                    batch = []
        self._orphans(orphans, report)
        if reservoir is not None:
            batch = sorted(reservoir.items)
        for chunk in chunked(batch, self.settings.batch_size):
            self._check(chunk, report)
        return report

    def _check(self, ids: Sequence[str], report: AuditReport) -> None:
        results = findings(ids, self.index, self.projector, self.settings)
        for finding in results:
            report.record(finding)
        if self.repair_into is not None and report.repair is not None:
            fix = [f.id for f in results if f.kind in (Kind.MISSING, Kind.DRIFTED)]
            if fix:
                added = self.repair_into.add(fix)
                reset = self.repair_into.reset(TERMINAL_STATES, State.NotStarted, ids=fix)
                report.repair.added += added
                report.repair.reset += reset
                report.repair.untouched += len(fix) - added - reset
        if self.on_checked is not None:
            self.on_checked(len(ids))

    def _orphans(self, candidates: Sequence[str], report: AuditReport) -> None:
        """Orphans confirmed one by one (an upload stores its original before thrall indexes
        it, so one that landed during the scan has its original by now) and, if asked,
        deleted with Grid's delete-image rule: one with exports or usages stays."""
        orphans = [image_id for image_id in candidates if not self.originals.exists(image_id)]
        for image_id in orphans:
            report.orphans.add(image_id)
        if not self.delete_orphans or not orphans:
            return
        now = now_iso()
        deleted = migration.write(
            self.index, [DocumentUpdate(i, DELETE_IMAGE, now) for i in orphans]
        )
        report.orphans_deleted = (report.orphans_deleted or 0) + len(deleted)
        for image_id in orphans:
            if image_id not in deleted:
                report.orphans_kept.add(image_id)


def inspect(
    image_id: str,
    index: SearchIndex,
    originals: OriginalsStore,
    projector: ImageProjector,
    settings: Settings,
) -> Finding | None:
    """One image's audit (``audit --show``); None when it has neither original nor document."""
    if not originals.exists(image_id):
        return None if index.get(image_id) is None else Finding(image_id, Kind.ORPHAN)
    return findings([image_id], index, projector, settings)[0]


#: the last report, kept in the home: ``/metrics`` and ``reingest metrics`` export it
LAST_REPORT = "last-audit.json"


def save_report(path: Path, report: AuditReport) -> None:
    """Keep the last report beside the home (``/metrics`` reads it), replaced atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(orjson.dumps({**report.to_json(), "finishedAt": now_iso()}))
    temporary.replace(path)


def last_report(home: Path) -> dict[str, Any] | None:
    """The last audit's report, or None if no audit has finished here (or it is unreadable)."""
    try:
        report: dict[str, Any] = orjson.loads((home / LAST_REPORT).read_bytes())
    except (OSError, ValueError):
        return None
    return report
