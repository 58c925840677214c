"""Fuzzing thrall: mutated Grid messages of every subject never stop it, never stay unaccounted
for, and never leave a document that cannot be written back as UTF-8 JSON.

Seeded and bounded (``REINGEST_FUZZ_SEED``, ``REINGEST_FUZZ_MESSAGES``); a longer campaign:
``REINGEST_FUZZ_MESSAGES=200000 pytest tests/test_thrall_fuzz.py``.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable
from typing import Any

import orjson

from reingest.backends import Components
from reingest.messages import compressed
from reingest.streams.base import Priority
from reingest.thrall import drain
from test_thrall_subjects import ID, T, image, lease, usage

SEED = int(os.environ.get("REINGEST_FUZZ_SEED", "20261202"))
MESSAGES = int(os.environ.get("REINGEST_FUZZ_MESSAGES", "3000"))
BATCH = 200

EDITS = {"archived": False, "labels": ["x"], "metadata": {"title": "edited"}, "lastModified": T[3]}
CROP = {"id": "c1", "specification": {"uri": "u", "bounds": {"x": 0}}, "assets": []}
COLLECTION = {"path": ["a"], "description": "A", "actionData": {"author": "a", "date": T[1]}}
NOTICE = {"mediaId": ID, "usageJson": [usage("u1", "pending", T[2])]}
#: one well-formed message of each subject: the seeds the mutations start from
SEEDS: list[dict[str, Any]] = [
    {"subject": "image", "image": image()},
    {"subject": "reingest-image", "image": image()},
    {"subject": "update-image", "image": image()},
    {"subject": "delete-image", "id": ID},
    {"subject": "soft-delete-image", "id": ID, "softDeletedMetadata": {"deleteTime": T[1], "deletedBy": "x"}},
    {"subject": "un-soft-delete-image", "id": ID},
    {"subject": "delete-image-exports", "id": ID},
    {"subject": "update-image-exports", "id": ID, "crops": [CROP]},
    {"subject": "update-image-user-metadata", "id": ID, "edits": EDITS},
    {"subject": "update-image-usages", "id": ID, "usageNotice": NOTICE},
    {"subject": "replace-image-leases", "id": ID, "leases": [lease("l1")]},
    {"subject": "add-image-lease", "id": ID, "mediaLease": lease("l2")},
    {"subject": "remove-image-lease", "id": ID, "leaseId": "l1"},
    {"subject": "set-image-collections", "id": ID, "collections": [COLLECTION]},
    {"subject": "update-usage-status", "id": ID, "usageNotice": NOTICE},
    {"subject": "delete-usages", "id": ID},
    {"subject": "delete-single-usage", "id": ID, "usageId": "u1"},
    {"subject": "update-image-syndication-metadata", "id": ID, "syndicationRights": {"rights": []}},
    {"subject": "update-image-photoshoot-metadata", "id": ID, "edits": {**EDITS, "photoshoot": {"title": "p"}}},
]  # fmt: skip
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 10**18, 1.5, float("1e308"), "", "x" * 5000, "not a date", "\u202e",
    "9999-12-31T23:59:59+14:00", "2020-01-01T00:00:00+99:00", [], [None], {}, {"a": {"b": {}}},
    "../../etc/passwd", "A" * 40, "é" * 40,
]  # fmt: skip


def mutate(rng: random.Random, message: dict[str, Any]) -> bytes:
    """A structure-aware mutation: odd values at random paths, fields dropped or duplicated,
    then sometimes byte-level damage, wire framing or not."""
    mutated = copy.deepcopy(message)
    for _ in range(rng.randint(1, 4)):
        if not mutated:  # every field deleted: an empty object is a message too
            break
        path = _random_path(rng, mutated)
        container, key = path[-1]
        action = rng.random()
        if action < 0.6:
            container[key] = rng.choice(ODD_VALUES)
        elif action < 0.8 and isinstance(container, dict):
            del container[key]
        else:
            container[key] = copy.deepcopy(rng.choice(SEEDS))
    if rng.random() < 0.3:
        mutated["lastModified"] = rng.choice([*ODD_VALUES, T[rng.randrange(len(T))]])
    data = orjson.dumps(mutated)
    if rng.random() < 0.15:  # byte damage: flips, cuts, lone surrogate escapes
        position = rng.randrange(len(data))
        damage: list[Callable[[bytes], bytes]] = [
            lambda d: d[:position] + bytes([rng.randrange(256)]) + d[position + 1 :],
            lambda d: d[:position],
            lambda d: d.replace(b'"edited"', b'"\\ud800"'),
        ]
        data = rng.choice(damage)(data)
    return compressed(data) if rng.random() < 0.5 else data


def reordered(rng: random.Random, message: dict[str, Any]) -> bytes:
    """A well-formed message sent at a random time: every rule meets documents in every order."""
    return orjson.dumps({**message, "lastModified": rng.choice(T)})


def _random_path(rng: random.Random, value: Any) -> list[tuple[Any, Any]]:
    """(container, key) steps from the message down to a random field; never into an empty
    container, so there is always a key to choose."""
    path: list[tuple[Any, Any]] = []
    while True:
        key = rng.choice(list(value) if isinstance(value, dict) else range(len(value)))
        path.append((value, key))
        child = value[key]
        if not isinstance(child, dict | list) or not child or rng.random() < 0.4:
            return path


def test_mutated_messages_never_stop_thrall_and_are_all_accounted_for(
    components: Components,
) -> None:
    rng = random.Random(SEED)
    streams, index = components.streams, components.index
    published = applied = dead = 0
    while published < MESSAGES:
        batch = [orjson.dumps(rng.choice(SEEDS[:3]))]  # keep a document to mutate against
        batch += [
            mutate(rng, seed) if rng.random() < 0.6 else reordered(rng, seed)
            for seed in (rng.choice(SEEDS) for _ in range(BATCH - 1))
        ]
        streams.publish(rng.choice(list(Priority)), batch)
        published += len(batch)
        done, failed = drain(streams, index, "fuzz", 30, max_cycles=100)
        applied, dead = applied + done, dead + failed
    assert applied + dead == published
    assert streams.pending() == 0
    assert dead > published // 10 and applied > published // 3  # both paths exercised
    document = index.get(ID)
    assert document is not None
    orjson.dumps(document)  # valid UTF-8 JSON, written back as it would be served
    for letter in streams.dead_letters(limit=1000):
        assert "Traceback" not in letter.reason and letter.reason.encode("utf-8")
