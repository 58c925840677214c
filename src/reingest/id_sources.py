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
