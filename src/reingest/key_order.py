"""Huge id lists in key order with bounded memory, for bulk loads into a B-tree.

Grid ids are SHA-1s in random order. Written in that order, each id lands on a random page
of a table that no longer fits the cache; written in key order, every page is filled once,
left to right. Sorting 50M ids in memory would take gigabytes, so ids are first spilled to
files by their first two characters (a bucket holds ~1/256 of them), then handed out one
bucket at a time, buckets in ascending order; the store sorts each bucket as it writes it
(``ORDER BY``), and the whole load proceeds in key order.

Each batch is a JSON array of strings, which SQLite reads with ``json_each`` in C: no
per-id Python work between the spill file and the B-tree.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO

#: ids held in memory before they are spilled (≈100 bytes each as Python strings)
MEMORY_IDS = 25_000
#: distinct prefixes given a file of their own; ids with any other prefix share one last
#: bucket (order there only costs speed, never correctness)
MAX_BUCKETS = 512
OVERFLOW = "\U0010ffff"
#: printable ASCII but the quote and the backslash: what a JSON string holds unescaped
_NEEDS_NO_ESCAPE = bytes(c for c in range(32, 127) if chr(c) not in '"\\')


@dataclass(frozen=True)
class Batch:
    count: int
    #: a JSON array of the ids
    json_ids: str


def write_in_key_order(
    ids: Iterable[str],
    spill_parent: Path,
    write: Callable[[Batch], int],
    on_written: Callable[[int], None] | None = None,
) -> int:
    """Give every batch of ``in_key_order`` to ``write`` (which returns how many of its ids
    were new), telling ``on_written`` each batch's size; returns the total of new ids."""
    added = 0
    for batch in in_key_order(ids, spill_parent):
        added += write(batch)
        if on_written:
            on_written(batch.count)
    return added


def in_key_order(ids: Iterable[str], spill_parent: Path) -> Iterator[Batch]:
    """Batches in ascending key order: every id of a batch sorts after every id of the
    batches before it. Inputs that fit in memory are one batch and never touch the disk."""
    iterator = iter(ids)
    first = list(islice(iterator, MEMORY_IDS))
    if not first:
        return
    rest = list(islice(iterator, 1))
    if not rest:
        yield Batch(len(first), json.dumps(first))
        return
    with tempfile.TemporaryDirectory(dir=spill_parent, prefix=".spill-") as folder:
        spill = _Spill(Path(folder))
        try:
            spill.add(first + rest)
            while chunk := list(islice(iterator, MEMORY_IDS)):
                spill.add(chunk)
        finally:
            spill.close()
        yield from spill.batches()


class _Spill:
    """Bucket files, each a JSON array of strings once closed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, IO[str]] = {}
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, chunk: list[str]) -> None:
        buckets: defaultdict[str, list[str]] = defaultdict(list)
        for image_id in chunk:
            buckets[image_id[:2]].append(image_id)
        for prefix, members in buckets.items():
            key = prefix if prefix in self.files or len(self.files) < MAX_BUCKETS else OVERFLOW
            handle = self.files.get(key)
            if handle is None:
                handle = self.files[key] = (self.folder / f"{len(self.files)}").open("w")
                handle.write("[")
            else:
                handle.write(",")
            handle.write(_json_strings(members))
            self.counts[key] += len(members)

    def close(self) -> None:
        for handle in self.files.values():
            handle.write("]")
            handle.close()

    def batches(self) -> Iterator[Batch]:
        for key in sorted(self.files):
            path = Path(self.files[key].name)
            json_ids = path.read_text()  # a whole JSON array: no copy to make one
            path.unlink()  # the disk is given back bucket by bucket
            yield Batch(self.counts[key], json_ids)


def _json_strings(ids: list[str]) -> str:
    """``"a","b"``: joined directly when no id needs escaping (the usual hex ids), which is
    several times cheaper than the JSON encoder."""
    plain = "".join(ids)
    if plain.isascii() and not plain.encode("ascii").translate(None, _NEEDS_NO_ESCAPE):
        return '"' + '","'.join(ids) + '"'
    return json.dumps(ids)[1:-1]
