"""``HttpProjector`` over real HTTP: against our own server (uvicorn in a thread), through
either API it serves, it gives batch-index the same outcomes and the same messages as the local
``Projector``; against small stand-ins answering in Grid image-loader's and the Lambda's shapes,
each kind of failure lands in the state the original put it in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
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
    UnsupportedFileType,
)
from reingest.failures import classify
from reingest.http import create_app
from reingest.messages import decode
from reingest.projection import ImageProjector, Projector
from reingest.projection_client import (
    Api,
    Endpoint,
    HttpProjector,
    RemoteLoaderError,
    resolve_endpoint,
)
from reingest.services.http import DownstreamApiError
from reingest.states import State
from reingest.streams.base import Priority

#: the sample and library fixtures
pytest_plugins = ["projection_support"]


@pytest.fixture
def server_url(components: Components, library: Library) -> Iterator[str]:
    with serve_in_thread(create_app(components, api_keys=[KEY])) as url:
        yield url


#: the ways to name our server's projection: bare (image-loader), each API's path, ?api=
STYLES = ["", "/images/project", "/images/projection", "?api=lambda", "/?api=image-loader"]


@pytest.fixture(params=STYLES)
def remote(server_url: str, request: pytest.FixtureRequest) -> Iterator[HttpProjector]:
    projector = HttpProjector(server_url + request.param, KEY)
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


@pytest.mark.parametrize("style", STYLES)
def test_a_rejected_key_stops_before_any_id_is_claimed(server_url: str, style: str) -> None:
    projector = HttpProjector(server_url + style, "wrong")
    with pytest.raises(ConfigurationError, match="refuses the API key"):
        projector.verify()
    HttpProjector(server_url + style, KEY).verify()  # a good key passes


@pytest.mark.parametrize(
    ("url", "endpoint", "api"),
    [
        ("https://loader.example", "https://loader.example/images/project", Api.IMAGE_LOADER),
        ("https://h/grid/", "https://h/grid/images/project", Api.IMAGE_LOADER),
        ("https://h/images/project/", "https://h/images/project", Api.IMAGE_LOADER),
        ("https://h/Prod/images/projection", "https://h/Prod/images/projection", Api.LAMBDA),
        ("https://h?api=lambda", "https://h/images/projection", Api.LAMBDA),
        ("https://h/x?api=image-loader", "https://h/x/images/project", Api.IMAGE_LOADER),
        ("https://h/images/projection?api=lambda", "https://h/images/projection", Api.LAMBDA),
    ],
)
def test_the_url_says_which_api(url: str, endpoint: str, api: Api) -> None:
    assert resolve_endpoint(url) == Endpoint(endpoint, api)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://h?api=grid", "must be image-loader or lambda"),
        ("https://h/images/projection?api=image-loader", "not the image-loader API's"),
        ("https://h?key=secret", "the only query parameter"),
    ],
)
def test_a_url_that_contradicts_itself_is_refused(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        resolve_endpoint(url)


def test_a_url_that_is_not_a_projection_endpoint_stops_before_any_id_is_claimed() -> None:
    """Every id would be NotFound otherwise: the probe's 404 must have the API's body."""
    with serve_in_thread(FastAPI()) as url:
        for api in Api:
            projector = HttpProjector(f"{url}?api={api}", KEY)
            with pytest.raises(ConfigurationError, match="is the projection URL right"):
                projector.verify()
            projector.close()
        with serve_in_thread(image_loader(404, {"imageId": MISSING_ID})) as loader:
            HttpProjector(loader, KEY).verify()


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


def answering(status: int, body: Any, delay: float = 0.0, api: Api = Api.LAMBDA) -> FastAPI:
    """A projection endpoint of ``api`` that answers every request with ``status`` and
    ``body``."""
    app = FastAPI()
    path = "/images/project" if api is Api.IMAGE_LOADER else "/images/projection"

    @app.get(path + "/{image_id}")
    def projection(image_id: str) -> JSONResponse:
        time.sleep(delay)
        return JSONResponse(body, status_code=status)

    return app


def image_loader(status: int, body: Any) -> FastAPI:
    """A stand-in for Grid's image-loader (``projectImageBy``)."""
    return answering(status, body, api=Api.IMAGE_LOADER)


def loader_500(exception: str | None) -> dict[str, Any]:
    """Grid's image-loader 500: ``{"imageId", "exception": e.getMessage}`` (null when none)."""
    return {"imageId": MISSING_ID, "exception": exception}


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
def test_each_lambda_failure_lands_where_the_original_put_it(
    status: int, body: Any, error: type[Exception], state: State
) -> None:
    with serve_in_thread(answering(status, body)) as url:
        projector = HttpProjector(url + "/images/projection", KEY)
        with pytest.raises(error) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert classify(raised.value)[0] == state


@pytest.mark.parametrize(
    ("status", "body", "error", "state"),
    [
        (404, {"imageId": MISSING_ID}, ImageNotFound, State.NotFound),
        (
            404,
            {"errorKey": "image-not-found", "errorMessage": "Could not find image"},
            ImageNotFound,
            State.NotFound,
        ),
        (503, "Service Unavailable", TransientError, State.UnknownError),
        (504, {"message": "Endpoint request timed out"}, TransientError, State.UnknownError),
        (
            500,
            loader_500("org.im4java.core.CommandException: identify: Premature end of JPEG"),
            RemoteLoaderError,
            State.KnownError,
        ),
        (500, loader_500("End of data reached."), RemoteLoaderError, State.KnownError),
        (
            500,
            loader_500("File of unknown and undetectable mime type"),
            RemoteLoaderError,
            State.KnownError,
        ),
        (500, loader_500("CorruptFile: truncated JPEG"), CorruptFile, State.KnownError),
        (500, loader_500("UnsupportedFileType: image/gif"), UnsupportedFileType, State.KnownError),
        (500, loader_500(None), DownstreamApiError, State.UnknownError),
        (
            500,
            loader_500("Futures timed out after [10 seconds]"),
            DownstreamApiError,
            State.UnknownError,
        ),
        (401, {"errorKey": "authentication-failure"}, DownstreamApiError, State.UnknownError),
        (200, {"not": "an image"}, DownstreamApiError, State.UnknownError),
    ],
)
def test_each_image_loader_failure_lands_where_the_original_put_it(
    status: int, body: Any, error: type[Exception], state: State
) -> None:
    with serve_in_thread(image_loader(status, body)) as url:
        projector = HttpProjector(url, KEY)
        with pytest.raises(error) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert classify(raised.value)[0] == state


def test_an_image_loader_500_keeps_its_exception_text() -> None:
    with serve_in_thread(image_loader(500, loader_500("Futures timed out"))) as url:
        projector = HttpProjector(url + "/images/project", KEY)
        with pytest.raises(DownstreamApiError) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert raised.value.error_message.endswith("answered 500: Futures timed out")
    assert classify(raised.value)[1].startswith("DownstreamApiError: GET ")
    assert "/images/project/<id> answered 500: Futures timed out" in classify(raised.value)[1]


def test_our_image_loader_endpoint_answers_in_grids_shapes(
    server_url: str, library: Library, components: Components
) -> None:
    """``GET /images/project/{id}`` as ``projectImageBy``: Argo JSON, ``{imageId}``,
    ``{imageId, exception}``; and our exception text names the loader error."""
    headers = {"X-Gu-Media-Key": KEY}
    with httpx.Client(base_url=server_url, headers=headers) as client:
        found = client.get(f"/images/project/{library.good[0]}")
        missing = client.get(f"/images/project/{MISSING_ID}")
        broken = client.get(f"/images/project/{library.broken[0]}")
    assert found.status_code == 200
    assert found.headers["content-type"] == "application/vnd.argo+json"
    local = Projector(components.originals, components.services)
    assert found.json() == local.project(library.good[0]).to_json()
    assert (missing.status_code, missing.json()) == (404, {"imageId": MISSING_ID})
    assert broken.status_code == 500
    assert set(broken.json()) == {"imageId", "exception"}
    assert broken.json()["imageId"] == library.broken[0]
    assert broken.json()["exception"].split(":")[0] in ("CorruptFile", "UnsupportedFileType")


def test_a_500_keeps_grids_error_and_downstream_messages() -> None:
    with serve_in_thread(answering(500, grid_500("ES is down", "timeout"))) as url:
        projector = HttpProjector(url + "/images/projection", KEY)
        with pytest.raises(DownstreamApiError) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert "ES is down" in raised.value.error_message
    assert raised.value.downstream_error_message == "timeout"


def test_our_loader_errors_keep_the_local_reason() -> None:
    with serve_in_thread(answering(500, grid_500("CorruptFile: truncated JPEG"))) as url:
        projector = HttpProjector(url + "?api=lambda", KEY)
        with pytest.raises(CorruptFile) as raised:
            projector.project(MISSING_ID)
        projector.close()
    assert classify(raised.value) == classify(CorruptFile("truncated JPEG"))


def test_timeouts_and_refused_connections_are_transient() -> None:
    with serve_in_thread(answering(200, {}, delay=1.0)) as url:
        projector = HttpProjector(url + "/images/projection", KEY, timeout=0.2)
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
