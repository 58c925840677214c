"""Batching helpers (``itertools.batched`` arrives only in Python 3.12)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """Successive tuples of at most ``size`` items, streamed."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk
