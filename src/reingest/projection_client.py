"""The projection over HTTP: ask a projection endpoint instead of reading originals here.

The endpoint is ``GET {base}/images/projection/{id}`` with the key in ``X-Gu-Media-Key``:
``reingest serve``, our projection Lambda behind API Gateway, or the original admin-tools
Lambda, which all answer alike (grid-model.md §3): 200 Image, 404 ``{"message"}``, 500
``{"message": {"errorMessage", "downstreamErrorMessage"}}``. So batch-index can run where the
originals are not, with the same outcomes as the local ``Projector``:

- 404 → ImageNotFound (NotFound);
- a 500 naming a loader failure (ours: ``UnsupportedFileType`` / ``CorruptFile``; the original's
  permanent markers ``org.im4java.core.CommandException`` / ``End of data reached.``) → a
  LoaderError (KnownError, never retried);
- 502/503/504, timeouts, refused connections → TransientError (batch-index retries those);
- any other status → DownstreamApiError with what the endpoint said (UnknownError).

No retries here: batch-index already retries TransientError with backoff, and a second layer
would multiply the waits.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

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

PROJECTION_PATH = "/images/projection"
#: 500 bodies the original tool treated as permanent: its loader could never read the file
PERMANENT_MARKERS = ("org.im4java.core.CommandException", "End of data reached.")
#: our own loader errors, named at the start of a 500's errorMessage (``"CorruptFile: …"``)
LOADER_ERRORS: dict[str, type[LoaderError]] = {
    error.__name__: error for error in (UnsupportedFileType, CorruptFile)
}


class RemoteLoaderError(LoaderError):
    """The endpoint's loader cannot read this original (one of the original's permanent 500s)."""


class HttpProjector:
    """``project(id) -> Image`` like ``Projector``, by asking a projection endpoint.

    ``base_url`` is a server's base (``https://host``) or already the original's
    ``PROJECTION_ENDPOINT`` (``…/images/projection``); either works. Safe to share between the
    threads of one batch (httpx clients are)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.endpoint = base if base.endswith(PROJECTION_PATH) else base + PROJECTION_PATH
        self.client = httpx.Client(
            headers={API_KEY_HEADER: api_key} if api_key else {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            transport=transport,
        )

    def project(self, image_id: str) -> Image:
        url = f"{self.endpoint}/{image_id}"
        response = self._get(url)
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
        bad_state = _bad_state(url, response)
        if response.status_code == 500:
            raise _loader_error(response) or bad_state
        raise bad_state

    def verify_key(self) -> None:
        """Refuse to start with a key the endpoint rejects, as the original did (a GET of an id
        that cannot exist answers 401/403 only for a bad key), rather than turn a whole batch
        into UnknownErrors."""
        url = f"{self.endpoint}/not-exists"
        status = self._get(url).status_code
        if status in (401, 403):
            raise ConfigurationError(
                f"the projection endpoint refuses the API key ({url}: {status})"
            )

    def _get(self, url: str) -> httpx.Response:
        try:
            return self.client.get(url)
        except httpx.TransportError as error:  # timeouts, refused or dropped connections
            raise TransientError(f"GET {url} failed: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        self.client.close()


def _loader_error(response: httpx.Response) -> LoaderError | None:
    """The permanent loader failure a 500 describes, or None for any other failure."""
    message = _error_message(response)
    name, _, detail = message.partition(": ")
    if name in LOADER_ERRORS:
        return LOADER_ERRORS[name](detail)
    if any(marker in response.text for marker in PERMANENT_MARKERS):
        return RemoteLoaderError(message or response.text[:500])
    return None


def _error_message(response: httpx.Response) -> str:
    """``message.errorMessage`` of Grid's 500 body (or a plain string message), else ''."""
    try:
        message: Any = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    if isinstance(message, dict):
        return str(message.get("errorMessage", ""))
    return message if isinstance(message, str) else ""
