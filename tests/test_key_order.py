from __future__ import annotations

import json
from pathlib import Path

import pytest

from reingest import key_order
from reingest.key_order import in_key_order


def spills(folder: Path) -> list[Path]:
    return list(folder.glob(".spill-*"))


def test_input_that_fits_in_memory_is_one_batch_without_files(tmp_path: Path) -> None:
    ids = ["c0", "a1", "b2", "a0"]
    batches = list(in_key_order(ids, tmp_path))
    assert [(b.count, json.loads(b.json_ids)) for b in batches] == [(4, ids)]
    assert list(in_key_order([], tmp_path)) == []
    assert spills(tmp_path) == []


def test_spilled_input_comes_back_whole_and_in_key_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_order, "MEMORY_IDS", 7)
    ids = [f"{(i * 7919) % 1000:03x}{i}" for i in range(200)] + ["a0", "a0"]
    batches = [json.loads(batch.json_ids) for batch in in_key_order(ids, tmp_path)]
    # sorting each batch on its own (as the store does) puts the whole input in order
    assert [image_id for batch in batches for image_id in sorted(batch)] == sorted(ids)
    assert len(batches) > 1
    assert spills(tmp_path) == []


def test_ids_that_need_escaping_and_too_many_prefixes_still_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_order, "MEMORY_IDS", 3)
    monkeypatch.setattr(key_order, "MAX_BUCKETS", 2)
    ids = ['q"uote', "back\\slash", "new\nline", "ünï", "", "tab\there", "zz", "aa", "aa"]
    batches = list(in_key_order(ids, tmp_path))
    out = [image_id for batch in batches for image_id in json.loads(batch.json_ids)]
    assert sorted(out) == sorted(ids)
    assert [b.count for b in batches] == [len(json.loads(b.json_ids)) for b in batches]


def test_spill_files_are_removed_when_the_consumer_stops_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_order, "MEMORY_IDS", 5)
    batches = in_key_order((f"{i:040x}" for i in range(100)), tmp_path)
    next(batches)
    assert len(spills(tmp_path)) == 1
    batches.close()
    assert spills(tmp_path) == []
