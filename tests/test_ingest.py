"""Ingest (and so POST /images): one file that fails costs only itself and leaves nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from reingest.backends import Components
from reingest.ingest import ingest_files, iter_files
from reingest.model import Image
from reingest.originals.base import image_id_of
from reingest.projection import Projector
from reingest.streams.base import Priority


def test_a_file_that_fails_after_reading_is_unstored_and_the_rest_are_ingested(
    components: Components, fixtures_dir: Path, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("corbis.jpg", "getty.jpg", "pa.jpg", "thisisnotanimage.jpg"):
        shutil.copy(fixtures_dir / name, uploads / name)
    odd_id = image_id_of((uploads / "getty.jpg").read_bytes())

    class FailingProjector(Projector):
        def project(self, image_id: str) -> Image:
            if image_id == odd_id:
                raise ValueError("offset must be a timedelta strictly between ...")
            return super().project(image_id)

    projector = FailingProjector(components.originals, components.services)
    seen: list[tuple[str, str | None]] = []
    report = ingest_files(
        iter_files([uploads]),
        components.originals,
        projector,
        components.streams,
        "tester",
        on_file=lambda path, problem: seen.append((path.name, problem)),
    )
    assert [name for name, _ in seen] == [
        "corbis.jpg",
        "getty.jpg",
        "pa.jpg",
        "thisisnotanimage.jpg",
    ]
    assert len(report.stored) == 2 and odd_id not in report.stored
    failed = {path.name: reason for path, reason in report.failed}
    assert failed["getty.jpg"] == "ValueError: offset must be a timedelta strictly between ..."
    assert failed["thisisnotanimage.jpg"] == "File format could not be determined"
    assert not components.originals.exists(odd_id)
    assert sorted(components.originals.ids()) == sorted(report.stored)
    assert components.streams.lag(Priority.HIGH).depth == 2
