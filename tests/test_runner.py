from __future__ import annotations

import dataclasses
from pathlib import Path

from reingest.backends import Components
from reingest.originals.base import UploadRecord
from reingest.runner import run
from reingest.states import State


def test_run_every_fires_one_index_batch_per_interval_and_stops_when_done(
    components: Components, fixtures_dir: Path
) -> None:
    ids = [
        components.originals.put((fixtures_dir / name).read_bytes(), UploadRecord())[0]
        for name in ("getty.jpg", "pa.jpg", "corbis.jpg")
    ]
    components.progress.add(ids)
    components.settings = dataclasses.replace(components.settings, batch_size=1)
    summary = run(components, every=0.3)
    assert summary.index_batches == 3
    assert summary.seconds >= 0.6  # batches at 0, 0.3 and 0.6 s, like a schedule
    assert summary.counts == {State.Verified: 3}


def test_run_stops_at_once_when_nothing_is_queued(components: Components) -> None:
    summary = run(components, every=60)
    assert summary.loops == 0 and summary.counts == {}
