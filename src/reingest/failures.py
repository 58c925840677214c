"""Failure reasons a person can read, normalised so that identical causes group together."""

from __future__ import annotations

import re

from .errors import ImageNotFound, LoaderError
from .states import State

MAX_REASON = 300
_IMAGE_ID = re.compile(r"\b[0-9a-f]{40}\b")
_ABSOLUTE_PATH = re.compile(r"(?<![^\s'\"(])/\S+")


def normalise_reason(text: str) -> str:
    """Strip what differs between occurrences of one cause (ids, paths) and bound the length."""
    text = _IMAGE_ID.sub("<id>", " ".join(text.split()))
    text = _ABSOLUTE_PATH.sub("<path>", text)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def classify(error: BaseException) -> tuple[State, str]:
    """Which state a failed projection ends in, and the reason recorded with it."""
    if isinstance(error, ImageNotFound):
        return State.NotFound, "no original stored for this id"
    if isinstance(error, LoaderError):
        return State.KnownError, normalise_reason(f"{type(error).__name__}: {error}")
    return State.UnknownError, normalise_reason(f"{type(error).__name__}: {error}")
