"""Hiding data-service latency, over real HTTP: a stand-in Grid (uvicorn in a thread) answers
after a delay and counts the requests it is answering at once, and batch-index's projection
(``project_ids``, the machinery of every batch) runs against it through ``HttpDataServices``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from http_support import Library, serve_in_thread

from reingest.backends import Components
from reingest.batch_index import project_ids
from reingest.concurrency import (
    HEADROOM,
    MIN_READ_AHEAD,
    AdaptiveLimit,
    Needs,
    limit_for,
    needed_in_flight,
    unloaded,
)
from reingest.config import Settings
from reingest.originals.base import StoredOriginal
from reingest.originals.file import FileOriginalsStore
from reingest.projection import Projector
from reingest.projection_client import HttpProjector
from reingest.services.http import HttpDataServices
from reingest.states import State

FAST: dict[str, Any] = {"attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.02}


@dataclass
class StandIn:
    """A Grid whose every data service answers after ``delay`` seconds (``slow`` for the ids
    in ``slow_ids``), 404 but for leases; ``failing_ids`` get a 500 in Grid's error shape."""

    delay: float = 0.0
    slow: float = 0.0
    slow_ids: set[str] = field(default_factory=set)
    failing_ids: set[str] = field(default_factory=set)
    answering: int = 0
    most_at_once: int = 0
    answered: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/{path:path}")
        async def anything(path: str) -> JSONResponse:
            self.answering += 1
            self.most_at_once = max(self.most_at_once, self.answering)
            try:
                slow = any(image_id in path for image_id in self.slow_ids)
                await asyncio.sleep(self.slow if slow else self.delay)
            finally:
                self.answering -= 1
                self.answered += 1
            if any(image_id in path for image_id in self.failing_ids):
                message = {"errorMessage": "ES is down", "downstreamErrorMessage": "timeout"}
                return JSONResponse({"message": message}, status_code=500)
            if path.startswith("leases/"):
                return JSONResponse({"data": {"leases": [], "lastModified": None}})
            return JSONResponse({"errorKey": "not-found"}, status_code=404)

        return app


@contextmanager
def projector_on(components: Components, stand_in: StandIn, **options: Any) -> Iterator[Projector]:
    with serve_in_thread(stand_in.app()) as url:
        services = HttpDataServices(url, **{**FAST, "timeout": 5.0, **options})
        try:
            yield Projector(components.originals, services)
        finally:
            services.close()


def settings_with(components: Components, max_in_flight: int) -> Settings:
    return Settings.from_env(
        {
            "REINGEST_HOME": str(components.settings.home),
            "REINGEST_PROJECTION_MAX_IN_FLIGHT": str(max_in_flight),
        }
    )


def states(projected: list[Any]) -> list[State]:
    return [one.outcome.state for one in projected]


def test_images_in_flight_never_exceed_the_operators_maximum(
    components: Components, library: Library
) -> None:
    ids = library.good * 4
    stand_in = StandIn(delay=0.03)
    with projector_on(components, stand_in) as projector:
        projected = project_ids(projector, ids, settings_with(components, 3))
        limit = limit_for(projector)
    assert states(projected) == [State.Enqueued] * len(ids)
    assert stand_in.answered == 7 * len(ids)
    # seven GETs per image, at most three images at once; and more than one image at once:
    # the latency is hidden by reading ahead
    assert 7 < stand_in.most_at_once <= 7 * 3
    assert limit.peak <= 3 and limit.limit <= 3


def test_a_remote_projection_endpoint_is_read_ahead_within_the_maximum(
    components: Components,
) -> None:
    """The same limit over ``HttpProjector``: a Lambda-style endpoint that knows no image."""
    ids = [f"{n:040x}" for n in range(24)]
    answering = most_at_once = 0

    async def unknown(image_id: str) -> JSONResponse:
        nonlocal answering, most_at_once
        answering += 1
        most_at_once = max(most_at_once, answering)
        await asyncio.sleep(0.02)
        answering -= 1
        return JSONResponse({"message": f"no image {image_id}"}, status_code=404)

    app = FastAPI()
    app.get("/images/projection/{image_id}")(unknown)
    with serve_in_thread(app) as url:
        projector = HttpProjector(url + "/images/projection", "key")
        projected = project_ids(projector, ids, settings_with(components, 4))
        projector.close()
    assert states(projected) == [State.NotFound] * len(ids)
    assert 1 < most_at_once <= 4


def test_the_limit_follows_the_measured_latency(components: Components, library: Library) -> None:
    ids = library.good * 4
    limits = {}
    for delay in (0.0, 0.08):
        with projector_on(components, StandIn(delay=delay)) as projector:
            projected = project_ids(projector, ids, settings_with(components, 32))
            limits[delay] = limit_for(projector)
        assert states(projected) == [State.Enqueued] * len(ids)
    fast, slow = limits[0.0], limits[0.08]
    assert slow.latency is not None and fast.latency is not None
    assert slow.latency >= 0.08 > fast.latency
    # Little's law: what is read ahead covers the latency at the rate the CPU goes
    assert slow.needs == needed_in_flight(slow.cpu, slow.latency, slow.blocked, 32)
    assert slow.limit > fast.limit and slow.limit >= 16
    assert slow.needs.threads == 1  # nothing blocks the projecting thread: no threads needed


def test_a_store_that_makes_the_projection_wait_gets_threads(
    components: Components, library: Library
) -> None:
    """A wait that cannot be read ahead (an original from a remote store; here the file store
    answering 20 ms late) is covered by projecting in threads, as many as it needs."""

    class DistantStore(FileOriginalsStore):
        def get_ranged(self, image_id: str, window: int) -> StoredOriginal:
            time.sleep(0.02)
            return super().get_ranged(image_id, window)

    store = DistantStore(components.settings.originals_url)
    projector = Projector(store, components.services)
    ids = library.good * 4
    started = time.monotonic()
    projected = project_ids(projector, ids, settings_with(components, 8))
    took = time.monotonic() - started
    limit = limit_for(projector)
    assert states(projected) == [State.Enqueued] * len(ids)
    assert limit.needs.threads == 8 and limit.needs.read_ahead == 0
    assert took < 0.02 * len(ids) / 2  # one at a time would wait 20 ms for each


def test_errors_map_as_before_and_cost_only_their_image(
    components: Components, library: Library
) -> None:
    failing, *others = library.good
    with projector_on(components, StandIn(delay=0.01, failing_ids={failing})) as projector:
        projected = project_ids(projector, [failing, *others], settings_with(components, 8))
    outcome = projected[0].outcome
    assert outcome.state == State.UnknownError
    assert "DownstreamApiError" in (outcome.reason or "")
    assert "answered 500: ES is down" in (outcome.reason or "")
    assert states(projected[1:]) == [State.Enqueued] * len(others)


def test_a_slow_service_times_out_and_costs_only_its_image(
    components: Components, library: Library
) -> None:
    slow_id, *others = library.good
    stand_in = StandIn(delay=0.01, slow=1.5, slow_ids={slow_id})
    with projector_on(components, stand_in, timeout=0.2) as projector:
        started = time.monotonic()
        projected = project_ids(
            projector, [*others, slow_id, *others], settings_with(components, 8)
        )
        took = time.monotonic() - started
    by_id = {one.outcome.id: one.outcome for one in projected}
    assert by_id[slow_id].state == State.UnknownError
    assert "Timeout" in (by_id[slow_id].reason or "")
    assert "after 2 attempts" in (by_id[slow_id].reason or "")
    assert all(by_id[image_id].state == State.Enqueued for image_id in others)
    # two attempts of 0.2 s each and a backoff: far from the stand-in's 1.5 s
    assert took < 1.2


def test_littles_law_in_numbers() -> None:
    # nothing to wait for: one thread, inline, nothing read ahead
    assert needed_in_flight(cpu=0.001, latency=0.0, blocked=0.0, maximum=32) == Needs(1, 0)
    # 20 ms away at 1 ms of CPU an image: 20 images' worth, with headroom, read ahead
    assert needed_in_flight(0.001, 0.020, 0.0, 32) == Needs(1, round(HEADROOM * 20))
    # a short latency: still a few images ahead, as answers come in bunches
    assert needed_in_flight(0.001, 0.0002, 0.0, 32) == Needs(1, MIN_READ_AHEAD)
    assert needed_in_flight(0.001, 0.0002, 0.0, 4) == Needs(1, 3)
    # the maximum bounds threads and read-ahead together
    assert needed_in_flight(0.001, 0.200, 0.0, 32) == Needs(1, 31)
    # a blocking wait (a remote original) calls for threads; a short one does not
    assert needed_in_flight(0.001, 0.0, 0.010, 32).threads == 1 + round(HEADROOM * 10)
    assert needed_in_flight(0.001, 0.0, 0.0002, 32).threads == 1


def test_the_latency_floor_ignores_queueing_but_follows_a_slower_server() -> None:
    floor = None
    for latency in (0.020, 0.021, 0.020):
        floor = unloaded(floor, latency)
    assert floor == 0.020
    floor = unloaded(floor, 0.200)  # one answer stuck behind a queue barely moves it
    assert floor < 0.025
    for _ in range(300):  # a server that is slower for good is followed
        floor = unloaded(floor, 0.040)
    assert floor == pytest.approx(0.040, rel=0.01)


def test_a_limit_starts_where_the_last_batch_left_off() -> None:
    limit = AdaptiveLimit()
    for _ in range(5):
        limit.observe(cpu=0.001, latency=0.010, blocked=0.0, maximum=32)
    assert limit.needs == Needs(1, round(HEADROOM * 10))
    assert limit.map(lambda item: item * 2, [1, 2, 3], 32, lambda ahead: None) == [2, 4, 6]
