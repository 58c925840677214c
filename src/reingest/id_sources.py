"""Id lists from each source of truth, streamed in id order (``reingest ids from``), so any of
them can feed ``ids upload -`` or be compared with another in bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import dropwhile, takewhile

from .backends import Components
from .states import State

SOURCES = ("originals", "index", "progress")


def ids_from(
    components: Components, source: str, state: State | None = None, prefix: str = ""
) -> Iterator[str]:
    """Every id ``source`` holds (progress: only those in ``state``, if given), only those
    starting with ``prefix``. The streams are ascending, so a prefix ends the listing early."""
    if state is not None and source != "progress":
        raise ValueError("--state applies to the progress table only")
    ids: Iterable[str]
    if source == "originals":
        ids = components.originals.ids()
    elif source == "index":
        ids = components.index.ids()
    elif source == "progress":
        rows = components.progress.scan()
        ids = (image_id for image_id, at in rows if state is None or at is state)
    else:
        raise ValueError(f"unknown id source {source!r}; expected one of {', '.join(SOURCES)}")
    if not prefix:
        return iter(ids)
    return takewhile(lambda i: i.startswith(prefix), dropwhile(lambda i: i < prefix, ids))


def merge_ids(
    first: Iterable[str], second: Iterable[str], names: tuple[str, str] = ("originals", "index")
) -> Iterator[tuple[str, bool, bool]]:
    """Two ascending id streams merged: ``(id, in first, in second)``, one id at a time
    (nothing is read ahead of what is yielded but one id of each stream). A stream that is not
    strictly ascending stops the merge: the comparison would silently be wrong."""
    left, right = _ascending(first, names[0]), _ascending(second, names[1])
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if a is not None and (b is None or a < b):
            yield a, True, False
            a = next(left, None)
        elif b is not None and (a is None or b < a):
            yield b, False, True
            b = next(right, None)
        elif a is not None:  # the same id on both sides
            yield a, True, True
            a, b = next(left, None), next(right, None)


def _ascending(ids: Iterable[str], name: str) -> Iterator[str]:
    previous = ""
    for image_id in ids:
        if image_id <= previous:
            raise ValueError(f"{name} ids are not in ascending order: {image_id} after {previous}")
        yield image_id
        previous = image_id
