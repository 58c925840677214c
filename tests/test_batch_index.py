from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from reingest.backends import Components
from reingest.batch_index import IndexReport, index_batch
from reingest.errors import DownstreamError, TransientError
from reingest.index.documents import file_digest
from reingest.messages import decode
from reingest.model import Image
from reingest.originals.base import UploadRecord
from reingest.projection import Projector
from reingest.services.base import ImageData
from reingest.services.local import LocalDataServices
from reingest.states import State
from reingest.streams.base import Priority


@pytest.fixture
def stored(components: Components, fixtures_dir: Path) -> dict[str, str]:
    """getty.jpg stored normally, and a truncated JPEG put straight into the store."""
    getty = (fixtures_dir / "getty.jpg").read_bytes()
    getty_id, _ = components.originals.put(getty, UploadRecord(filename="getty.jpg"))
    broken_id, _ = components.originals.put(getty[:3000], UploadRecord(filename="cut.jpg"))
    return {"getty": getty_id, "broken": broken_id, "missing": "f" * 40}


def run_batch(components: Components, **overrides: object) -> IndexReport:
    settings = dataclasses.replace(components.settings, **overrides)  # type: ignore[arg-type]
    projector = Projector(components.originals, components.services)
    return index_batch(components.progress, projector, components.streams, settings, "w")


def test_each_outcome_lands_in_its_state_with_a_reason(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add(stored.values())
    run_batch(components)
    rows = {row.id: row for row in components.progress.get(list(stored.values()))}
    assert rows[stored["getty"]].state == State.Enqueued
    assert rows[stored["getty"]].enqueued_version is not None
    assert rows[stored["broken"]].state == State.KnownError
    assert (rows[stored["broken"]].reason or "").startswith("CorruptFile")
    assert rows[stored["missing"]].state == State.NotFound
    [delivery] = components.streams.receive(Priority.LOW, "t", 10, 30)
    message = decode(delivery.payload)
    assert message.subject == "reingest-image"
    assert message.image is not None and message.image["id"] == stored["getty"]
    # the row keeps the digest of what the image as indexed will hold, for the checker
    assert file_digest(message.image) == rows[stored["getty"]].enqueued_version


def test_projections_over_max_size_are_put_down_as_too_big(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add([stored["getty"]])
    run_batch(components, max_size=1_000)
    [row] = components.progress.get([stored["getty"]])
    assert row.state == State.TooBig and "MAX_SIZE is 1000" in (row.reason or "")
    assert components.streams.lag(Priority.LOW).depth == 0


def test_unexpected_errors_become_unknown_error_with_a_groupable_reason(
    components: Components, stored: dict[str, str]
) -> None:
    class TimingOutServices(LocalDataServices):
        def fetch(self, image_id: str) -> ImageData:
            raise TimeoutError(f"usage service timed out for {image_id}")

    components.progress.add([stored["getty"]])
    services = TimingOutServices(components.settings.services_url)
    projector = Projector(components.originals, services)
    settings = components.settings
    report = index_batch(components.progress, projector, components.streams, settings, "w")
    assert report.outcomes == {State.UnknownError: 1}
    [row] = components.progress.get([stored["getty"]])
    assert row.reason == "TimeoutError: usage service timed out for <id>"


def test_a_projection_that_cannot_be_serialised_costs_only_its_own_image(
    components: Components, stored: dict[str, str], fixtures_dir: Path
) -> None:
    """A string with a lone surrogate (an odd EXIF value read by an older loader, or a data
    service's) fails serialisation: that image is UnknownError, its neighbours go on."""
    pa_id, _ = components.originals.put((fixtures_dir / "pa.jpg").read_bytes(), UploadRecord())

    class OddProjector(Projector):
        def project(self, image_id: str) -> Image:
            image = super().project(image_id)
            if image_id == stored["getty"]:
                image.metadata.title = "odd \ud800 value"
            return image

    components.progress.add([stored["getty"], pa_id])
    projector = OddProjector(components.originals, components.services)
    report = index_batch(
        components.progress, projector, components.streams, components.settings, "w"
    )
    assert report.outcomes == {State.UnknownError: 1, State.Enqueued: 1}
    rows = {row.id: row for row in components.progress.get([stored["getty"], pa_id])}
    assert rows[stored["getty"]].state == State.UnknownError
    assert "surrogate" in (rows[stored["getty"]].reason or "")
    assert rows[pa_id].state == State.Enqueued
    assert components.streams.lag(Priority.LOW).depth == 1


def test_a_lagging_low_stream_skips_the_run_and_says_why(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add([stored["getty"]])
    components.streams.publish(Priority.LOW, [b"{}"])
    report = run_batch(components, latency_threshold_ms=0)
    assert report.skipped is not None and "low-priority stream lags" in report.skipped
    assert components.progress.counts() == {State.NotStarted: 1}
    report = run_batch(components, latency_threshold_ms=60_000)
    assert report.skipped is None


class FlakyServices(LocalDataServices):
    """Fails the first ``failures`` fetches with ``error``, then answers."""

    def __init__(self, url: str, error: Exception, failures: int) -> None:
        super().__init__(url)
        self.error, self.failures, self.calls = error, failures, 0

    def fetch(self, image_id: str) -> ImageData:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return super().fetch(image_id)


def flaky_batch(components: Components, services: FlakyServices) -> IndexReport:
    settings = dataclasses.replace(
        components.settings, projection_tries=3, projection_backoff_cap_seconds=0.01
    )
    projector = Projector(components.originals, services)
    return index_batch(components.progress, projector, components.streams, settings, "w")


def test_transient_failures_are_retried_before_classification(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add([stored["getty"]])
    services = FlakyServices(
        components.settings.services_url, TransientError("leases: 503"), failures=2
    )
    assert flaky_batch(components, services).outcomes == {State.Enqueued: 1}
    assert services.calls == 3


def test_transient_failures_that_persist_end_as_unknown_error(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add([stored["getty"]])
    services = FlakyServices(components.settings.services_url, TimeoutError("slow"), failures=99)
    assert flaky_batch(components, services).outcomes == {State.UnknownError: 1}
    assert services.calls == 3


def test_permanent_failures_are_never_retried(
    components: Components, stored: dict[str, str]
) -> None:
    components.progress.add([stored["getty"]])
    services = FlakyServices(
        components.settings.services_url, DownstreamError("leases: 400 bad request"), failures=99
    )
    assert flaky_batch(components, services).outcomes == {State.UnknownError: 1}
    assert services.calls == 1


def test_the_posted_json_reads_back_as_the_object_its_digest_was_made_from(
    components: Components, fixtures_dir: Path
) -> None:
    """batch-index writes each message from the projection's JSON object rather than parsing
    its bytes back: for every Grid fixture, and for an integer past 64 bits (which orjson
    cannot write, so pydantic's writer does), thrall reads the very object the digest is of."""
    projector = Projector(components.originals, components.services)
    images = []
    names = ("getty.jpg", "corbis.jpg", "pa.jpg", "longXMP.jpg", "flower.tif", "longICC.png")
    for name in names:
        image_id, _ = components.originals.put((fixtures_dir / name).read_bytes(), UploadRecord())
        images.append(projector.project(image_id))
    images[0].metadata.extra_huge = 2**70  # type: ignore[attr-defined]
    for image in images:
        document, image_bytes = image.to_json_and_bytes()
        assert orjson.loads(image_bytes) == document == orjson.loads(image.to_json_bytes())
    assert b'"extra_huge":1180591620717411303424' in images[0].to_json_and_bytes()[1]
