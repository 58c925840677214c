"""``HttpProjector`` over real HTTP: against our own server (uvicorn in a thread) it gives
batch-index the same outcomes and the same messages as the local ``Projector``; against small
misbehaving servers, each kind of failure lands in the state the original put it in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from projection_support import KEY, MISSING_ID, Library, serve_in_thread
from reingest.backends import Components
from reingest.batch_index import index_batch
from reingest.config import Settings
from reingest.errors import (
    ConfigurationError,
    CorruptFile,
    DownstreamError,
    ImageNotFound,
    TransientError,
)
from reingest.failures import classify
from reingest.http import create_app
from reingest.messages import decode
from reingest.projection import ImageProjector, Projector
from reingest.projection_client import HttpProjector, RemoteLoaderError
from reingest.services.http import DownstreamApiError
from reingest.states import State
from reingest.streams.base import Priority

#: the sample and library fixtures
pytest_plugins = ["projection_support"]


@pytest.fixture
def server_url(components: Components, library: Library) -> Iterator[str]:
    with serve_in_thread(create_app(components, api_keys=[KEY])) as url:
        yield url


@pytest.fixture
def remote(server_url: str) -> Iterator[HttpProjector]:
    projector = HttpProjector(server_url, KEY)
    yield projector
    projector.close()


def index_everything(
    components: Components, projector: ImageProjector, ids: list[str]
) -> tuple[dict[str, tuple[State, str | None]], dict[str, dict[str, Any]]]:
    """Queue ``ids`` afresh, run one batch-index, and return each id's (state, reason) and the
    image JSON of every message it posted."""
    progress, streams = components.progress, components.streams
    progress.reset(list(State), State.NotStarted)
    progress.add(ids)
    settings = Settings.from_env(
        {"REINGEST_HOME": str(components.settings.home), "REINGEST_BATCH_SIZE": "100"}
    )
    report = index_batch(progress, projector, streams, settings, "test")
    assert sorted(report.claimed) == sorted(ids)
    images = {}
    while deliveries := streams.receive(Priority.LOW, "test", 100, 30):
        for delivery in deliveries:
            image = decode(delivery.payload).image
            assert image is not None
            images[image["id"]] = image
        streams.ack(deliveries)
    states = {row.id: (row.state, row.reason) for row in progress.get(ids)}
    return states, images


def test_batch_index_over_http_gives_the_local_outcomes_and_messages(
    components: Components, library: Library, remote: HttpProjector
) -> None:
    ids = [*library.good, *library.broken, MISSING_ID]
    local = Projector(components.originals, components.services)
    states_local, images_local = index_everything(components, local, ids)
    states_http, images_http = index_everything(components, remote, ids)

    assert states_http == states_local
    assert {states_http[i][0] for i in library.good} == {State.Enqueued}
    assert {states_http[i][0] for i in library.broken} == {State.KnownError}
    assert states_http[MISSING_ID][0] == State.NotFound
    assert images_http == images_local
    assert sorted(images_http) == sorted(library.good)


def test_the_original_projection_endpoint_form_is_accepted(
    server_url: str, library: Library, components: Components
) -> None:
    """``PROJECTION_ENDPOINT`` in the original named ``…/images/projection`` itself."""
    projector = HttpProjector(server_url + "/images/projection/", KEY)
    image_id = library.good[0]
    local = Projector(components.originals, components.services).project(image_id)
    assert projector.project(image_id).to_json() == local.to_json()
    with pytest.raises(ImageNotFound):
        projector.project(MISSING_ID)
    projector.close()


def test_a_rejected_key_stops_before_any_id_is_claimed(server_url: str) -> None:
    projector = HttpProjector(server_url, "wrong")
    with pytest.raises(ConfigurationError, match="refuses the API key"):
        projector.verify_key()
    HttpProjector(server_url, KEY).verify_key()  # a good key passes


def test_components_choose_the_http_projector_from_the_original_names(
    server_url: str, library: Library, components: Components
) -> None:
    env = {
        "REINGEST_HOME": str(components.settings.home),
        "PROJECTION_ENDPOINT": f"{server_url}/images/projection",
        "API_KEY": KEY,
    }
    with Components(Settings.from_env(env)) as remote_components:
        assert isinstance(remote_components.projector, HttpProjector)
        image = remote_components.projector.project(library.good[0])
        assert image.id == library.good[0]
    assert isinstance(components.projector, Projector)
    wrong = Components(Settings.from_env({**env, "API_KEY": "wrong"}))
    with pytest.raises(ConfigurationError):
        _ = wrong.projector


# -- failures over the wire -------------------------------------------------------------------


def answering(status: int, body: Any, delay: float = 0.0) -> FastAPI:
    """A projection endpoint that answers every request with ``status`` and ``body``."""
    app = FastAPI()

    @app.get("/images/projection/{image_id}")
    def projection(image_id: str) -> JSONResponse:
        time.sleep(delay)
        return JSONResponse(body, status_code=status)

    return app


def grid_500(error_message: str, downstream: str = "") -> dict[str, Any]:
    return {"message": {"errorMessage": error_message, "downstreamErrorMessage": downstream}}


@pytest.mark.parametrize(
    ("status", "body", "error", "state"),
    [
        (503, {"message": "busy"}, TransientError, State.UnknownError),
        (502, "bad gateway", TransientError, State.UnknownError),
        (504, "", TransientError, State.UnknownError),
        (
            500,
            grid_500("failed", "org.im4java.core.CommandException: identify: corrupt"),
            RemoteLoaderError,
            State.KnownError,
        ),
        (500, grid_500("End of data reached.", ""), RemoteLoaderError, State.KnownError),
        (500, grid_500("CorruptFile: truncated JPEG"), CorruptFile, State.KnownError),
        (500, grid_500("ES is down", "timeout"), DownstreamApiError, State.UnknownError),
        (418, {"message": "teapot"}, DownstreamApiError, State.UnknownError),
        (200, {"not": "an image"}, DownstreamApiError, State.UnknownError),
    ],
)
def test_each_failure_lands_where_the_original_put_it(
    status: int, body: Any, error: type[Exception], state: State
) -> None:
    with serve_in_thread(answering(status, body)) as url:
        projector = HttpProjector(url, KEY)
        with pytest.raises(error) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert classify(raised.value)[0] == state


def test_a_500_keeps_grids_error_and_downstream_messages() -> None:
    with serve_in_thread(answering(500, grid_500("ES is down", "timeout"))) as url:
        projector = HttpProjector(url, KEY)
        with pytest.raises(DownstreamApiError) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert "ES is down" in raised.value.error_message
    assert raised.value.downstream_error_message == "timeout"


def test_our_loader_errors_keep_the_local_reason() -> None:
    with serve_in_thread(answering(500, grid_500("CorruptFile: truncated JPEG"))) as url:
        projector = HttpProjector(url, KEY)
        with pytest.raises(CorruptFile) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert classify(raised.value) == classify(CorruptFile("truncated JPEG"))


def test_timeouts_and_refused_connections_are_transient() -> None:
    with serve_in_thread(answering(200, {}, delay=1.0)) as url:
        projector = HttpProjector(url, KEY, timeout=0.2)
        with pytest.raises(TransientError, match="Timeout"):
            projector.project(MISSING_ID)
        projector.close()
    with serve_in_thread(FastAPI()) as url:
        pass  # nothing listens there any more
    projector = HttpProjector(url, KEY)
    with pytest.raises(TransientError, match="ConnectError"):
        projector.project(MISSING_ID)
    assert isinstance(TransientError("x"), DownstreamError)
    projector.close()
