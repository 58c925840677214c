from __future__ import annotations

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


def test_upload_streams_in_batches(components: Components) -> None:
    ids = (f"{i:040x}\n" for i in range(2_500))
    seen: list[int] = []
    report = upload_ids(components.progress, ids, batch_size=1_000, on_batch=seen.append)
    assert seen == [1_000, 1_000, 500]
    assert report.added == 2_500
