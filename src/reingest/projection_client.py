"""The projection over HTTP: ask a projection endpoint instead of reading originals here.

Two APIs serve a projection, both with the key in ``X-Gu-Media-Key``:

- **image-loader** (``GET {base}/images/project/{id}``): a current Grid image-loader
  (``ImageLoaderController.projectImageBy``), or ``reingest serve``. 200 Image; 404
  ``{"imageId"}`` (or Argo's ``{"errorKey", "errorMessage"}``); 500 ``{"imageId", "exception"}``
  where ``exception`` is the failure's ``getMessage`` (``null`` when it has none, as Grid's
  unsupported-MIME-type failure has).
- **lambda** (``GET {base}/images/projection/{id}``): the original admin-tools projection
  Lambda, our projection Lambda, or ``reingest serve``. 200 Image; 404 ``{"message"}``; 500
  ``{"message": {"errorMessage", "downstreamErrorMessage"}}``.

``resolve_endpoint`` picks the API from the URL: a path ending in ``/images/project`` or
``/images/projection`` says which; ``?api=image-loader|lambda`` says so explicitly; a bare base
URL means image-loader, the form Grid itself uses (``GridClient`` appends
``/images/project/{id}`` to its projection base; the Lambda is gone from Grid, and its
``PROJECTION_ENDPOINT`` always named ``…/images/projection``).

Either way batch-index gets the local ``Projector``'s outcomes:

- 404 → ImageNotFound (NotFound), whatever the body, as Grid's ``GridClient`` reads it;
- a 500 naming a permanent loader failure → a LoaderError (KnownError, never retried): ours
  (``UnsupportedFileType: …`` / ``CorruptFile: …`` at the start of the message), the original's
  markers (``PERMANENT_MARKERS``) anywhere in the body;
- 502/503/504, timeouts, refused connections → TransientError (batch-index retries those);
- any other answer → DownstreamApiError with what the endpoint said (UnknownError).

No retries here: batch-index already retries TransientError with backoff, and a second layer
would multiply the waits. Requests go out on a ``CurlPool`` (as the data services' do), so the
projections batch-index keeps in flight share kept-alive connections; each request has a total
deadline (``timeout``). ``prefetch`` starts the requests of the images batch-index will project
soon, and their latency is noted for its read-ahead depth (``concurrency``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import ValidationError

from .concurrency import ReadAhead, note_latency
from .curl_pool import Answers, CurlPool, Response, TransportError
from .errors import (
    ConfigurationError,
    CorruptFile,
    ImageNotFound,
    LoaderError,
    TransientError,
    UnsupportedFileType,
)
from .model import Image
from .services.http import API_KEY_HEADER, TRANSIENT_STATUSES, DownstreamApiError, _bad_state


class Api(StrEnum):
    #: Grid's image-loader: ``/images/project/{id}``
    IMAGE_LOADER = "image-loader"
    #: the admin-tools projection Lambda: ``/images/projection/{id}``
    LAMBDA = "lambda"


PATHS = {Api.IMAGE_LOADER: "/images/project", Api.LAMBDA: "/images/projection"}
#: what a bare base URL speaks
DEFAULT_API = Api.IMAGE_LOADER
#: 500 bodies that mean the loader can never read the file: the original tool's two markers,
#: and the texts of Grid's loader failing to tell the file's type (``Uploader.scala``)
PERMANENT_MARKERS = (
    "org.im4java.core.CommandException",
    "End of data reached.",
    "File of unknown and undetectable mime type",
    "This file is not an image with an identifiable mime type",
)
#: our own loader errors, named at the start of a 500's message (``"CorruptFile: …"``)
LOADER_ERRORS: dict[str, type[LoaderError]] = {
    error.__name__: error for error in (UnsupportedFileType, CorruptFile)
}
#: an id no image can have: the start-up probe's
PROBE_ID = "0" * 40
#: statuses Grid's and our servers give a refused key (419: an expired session)
REFUSED = frozenset({401, 403, 419})


class RemoteLoaderError(LoaderError):
    """The endpoint's loader cannot read this original (one of the permanent 500s)."""


@dataclass(frozen=True)
class Endpoint:
    #: projections are at ``{url}/{id}``
    url: str
    api: Api


def resolve_endpoint(url: str) -> Endpoint:
    """Where projections are and which API answers there (see the module docstring)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name != "api" for name, _ in query):
        raise ConfigurationError(f"projection URL {url!r}: the only query parameter is ?api=")
    path = parts.path.rstrip("/")
    named = next((api for api, suffix in PATHS.items() if path.endswith(suffix)), None)
    try:
        chosen = Api(query[-1][1]) if query else None
    except ValueError:
        apis = " or ".join(api.value for api in Api)
        raise ConfigurationError(f"projection URL {url!r}: ?api= must be {apis}") from None
    if named and chosen and named != chosen:
        raise ConfigurationError(f"projection URL {url!r}: its path is not the {chosen} API's")
    api = chosen or named or DEFAULT_API
    if named is None:
        path += PATHS[api]
    return Endpoint(urlunsplit(parts._replace(path=path, query="")), api)


class HttpProjector:
    """``project(id) -> Image`` like ``Projector``, by asking a projection endpoint (any URL
    ``resolve_endpoint`` reads). Safe to share between the threads of one batch."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 120.0) -> None:
        resolved = resolve_endpoint(url)
        self.endpoint = resolved.url
        self.api = resolved.api
        self.pool = CurlPool(
            {API_KEY_HEADER: api_key} if api_key else {},
            timeout=timeout,
            connect_timeout=min(timeout, 10.0),
        )
        self.ahead = ReadAhead(lambda image_id: self.pool.get_all([self._url(image_id)]))

    def prefetch(self, image_ids: Sequence[str]) -> None:
        self.ahead.prefetch(image_ids)

    def _url(self, image_id: str) -> str:
        return f"{self.endpoint}/{image_id}"

    def project(self, image_id: str) -> Image:
        url = self._url(image_id)
        response = self._response(url, self.ahead.take(image_id))
        if response.status_code == 200:
            try:
                return Image.model_validate(response.json())
            except (ValueError, ValidationError) as error:
                raise DownstreamApiError(
                    f"GET {url}: not an Image", f"{type(error).__name__}: {error}"
                ) from error
        if response.status_code == 404:
            raise ImageNotFound(f"no original stored for {image_id} (GET {url} answered 404)")
        if response.status_code in TRANSIENT_STATUSES:
            raise TransientError(f"GET {url} answered {response.status_code}")
        if self.api is Api.IMAGE_LOADER:
            message = _image_loader_message(response)
            summary = f"GET {url} answered {response.status_code}"
            bad_state = DownstreamApiError(
                f"{summary}: {message}" if message else summary, response.text[:500]
            )
        else:
            message = _lambda_error_message(response)
            bad_state = _bad_state(url, response)
        if response.status_code == 500:
            raise _loader_error(message, response.text) or bad_state
        raise bad_state

    def verify(self) -> None:
        """Refuse to start, rather than turn a whole batch into failures, when the endpoint
        refuses the key, or answers an id that cannot exist with something other than its
        API's 404 (a wrong URL would otherwise put every id down as NotFound)."""
        url = self._url(PROBE_ID)
        response = self._response(url, self.pool.get_all([url]))
        if response.status_code in REFUSED:
            raise ConfigurationError(
                f"the projection endpoint refuses the API key ({url}: {response.status_code})"
            )
        expected = ("imageId", "errorKey") if self.api is Api.IMAGE_LOADER else ("message",)
        if response.status_code == 404 and not _has_any(response, expected):
            raise ConfigurationError(
                f"{url} answered 404 without the {self.api} API's body "
                f"({response.text[:200]!r}): is the projection URL right? "
                "(add ?api=image-loader or ?api=lambda to say which API it serves)"
            )

    def _response(self, url: str, answers: Future[Answers]) -> Response:
        [answer] = answers.result()
        note_latency(answer.seconds)
        if isinstance(answer, TransportError):  # timeouts, refused or dropped connections
            raise TransientError(f"GET {url} failed: {answer}") from answer
        return answer

    def close(self) -> None:
        self.pool.close()


def _loader_error(message: str, body: str) -> LoaderError | None:
    """The permanent loader failure a 500 describes, or None for any other failure."""
    name, _, detail = message.partition(": ")
    if name in LOADER_ERRORS:
        return LOADER_ERRORS[name](detail)
    if any(marker in body for marker in PERMANENT_MARKERS):
        return RemoteLoaderError(message or body[:500])
    return None


def _json_object(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _has_any(response: Response, keys: tuple[str, ...]) -> bool:
    body = _json_object(response)
    return any(key in body for key in keys)


def _lambda_error_message(response: Response) -> str:
    """``message.errorMessage`` of the Lambda's 500 body (or a plain string message), else ''."""
    message = _json_object(response).get("message")
    if isinstance(message, dict):
        return str(message.get("errorMessage", ""))
    return message if isinstance(message, str) else ""


def _image_loader_message(response: Response) -> str:
    """The image-loader's ``exception`` (or an Argo error's ``errorMessage``), else ''."""
    body = _json_object(response)
    if "exception" in body and not body["exception"]:
        return "no exception message (how Grid reports, among others, an unsupported type)"
    return str(body.get("exception") or body.get("errorMessage") or "")
