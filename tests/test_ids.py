from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reingest import ids as ids_module
from reingest import key_order
from reingest.backends import Components
from reingest.ids import normalise_id, upload_ids
from reingest.states import State

GOOD = "6792bda493e01a9c6a5eed4389383aaa6043392f"


def test_normalise_id_accepts_forty_hex_digits_in_any_case() -> None:
    assert normalise_id(f"  {GOOD.upper()}\n") == GOOD
    assert normalise_id("id123") is None
    assert normalise_id(GOOD + "0") is None
    assert normalise_id("g" * 40) is None


def test_upload_strips_skips_blanks_reports_malformed_and_deduplicates(
    components: Components,
) -> None:
    other = "17f4f3a2e646f154d7b54d857e6a460fb2206d86"
    lines = [f"{GOOD}\n", "\n", "   \n", f"  {other}  \n", "not-an-id\n", f"{GOOD}\n", "1234\n"]
    report = upload_ids(components.progress, lines)
    assert (report.lines, report.valid, report.added, report.already_known) == (7, 3, 2, 1)
    assert report.malformed == 2
    assert report.malformed_examples == [(5, "not-an-id"), (7, "1234")]
    assert components.progress.counts() == {State.NotStarted: 2}
    again = upload_ids(components.progress, lines)
    assert again.added == 0 and components.progress.counts() == {State.NotStarted: 2}


def test_upload_reports_lines_read_and_ids_written(components: Components) -> None:
    ids = (f"{i:040x}\n" for i in range(2_500))
    read: list[int] = []
    written: list[int] = []
    report = upload_ids(components.progress, ids, on_read=read.append, on_written=written.append)
    assert sum(read) == 2_500 and sum(written) == 2_500
    assert report.added == 2_500


def test_a_file_is_read_in_blocks_with_exact_line_numbers(
    components: Components, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ids_module, "BLOCK_CHARS", 41 * 3)
    good = [f"{i:040x}" for i in range(1, 9)]
    text = (
        f"{good[0]}\n{good[1].upper()}\n{good[2]}\n"  # a well-formed block, upper case
        f"{good[3]}\n\n{good[4]}\r\n"  # blank and CRLF lines: the line-by-line path
        f"{good[5]}\nnot-an-id\n{good[6]}\n"
        f"{good[7]}"  # no final newline
    )
    path = tmp_path / "ids.txt"
    path.write_bytes(text.encode())
    read: list[int] = []
    with path.open(encoding="utf-8", newline="") as handle:
        report = upload_ids(components.progress, handle, on_read=read.append)
    assert (report.lines, report.valid, report.added, report.malformed) == (10, 8, 8, 1)
    assert report.malformed_examples == [(8, "not-an-id")]
    assert sum(read) == 10
    assert [image_id for image_id, _ in components.progress.scan()] == good


def test_a_large_upload_spills_and_is_written_in_key_order(
    components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_order, "MEMORY_IDS", 100)
    ids = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(1_000)]
    written: list[int] = []
    report = upload_ids(components.progress, [f"{i}\n" for i in ids], on_written=written.append)
    assert report.added == 1_000 and sum(written) == 1_000 and len(written) > 1
    assert [image_id for image_id, _ in components.progress.scan()] == sorted(ids)
    assert components.progress.counts() == components.progress.recount()
    assert upload_ids(components.progress, ids).added == 0
