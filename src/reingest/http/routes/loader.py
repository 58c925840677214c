"""Grid's image-loader: ``POST /images`` (an upload) and ``GET /images/project/{id}``.

An upload goes through ``reingest.ingest`` exactly as ``reingest ingest`` does (store, project,
publish on the high-priority stream); the body is read in chunks and refused with 413 as soon as
it passes the configured limit.

The projection answers as ``ImageLoaderController.projectImageBy`` does: 200 Image JSON as
``application/vnd.argo+json``, 404 ``{"imageId"}``, 500 ``{"imageId", "exception"}``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...backends import Components
from ...errors import (
    DownstreamError,
    ImageNotFound,
    LoaderError,
    UnsupportedFileType,
)
from ...ingest import ingest_files
from ..auth import require_key
from ..deps import BaseUrl, ComponentsDep
from ..errors import ApiError, ImageId
from .projection import error_text, project_image

router = APIRouter(tags=["loader"], dependencies=[Depends(require_key)])

DEFAULT_FILENAME = "upload"
ARGO_JSON = "application/vnd.argo+json"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once larger than ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "file-too-large", f"uploads are limited to {limit:,} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "file-too-large", f"uploads are limited to {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def safe_filename(filename: str | None) -> str:
    """Only the last path part of what the client says; never ``..`` or empty."""
    name = Path(filename or "").name.replace("\x00", "")[:255]
    return name if name.strip(".") else DEFAULT_FILENAME


def ingest_upload(components: Components, data: bytes, filename: str, uploaded_by: str) -> str:
    """Ingest the upload as ``reingest ingest`` does (which refuses what the loader cannot
    read before storing anything); a refusal or failure is answered by ``_refusal``."""
    with tempfile.TemporaryDirectory(prefix="reingest-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(data)
        projector = components.local_projector
        report = ingest_files(
            [path], components.originals, projector, components.streams, uploaded_by
        )
    if report.failed:
        raise _refusal(report.errors[0], report.failed[0][1])
    return (report.stored + report.already_stored)[0]


def _refusal(error: Exception, reason: str) -> ApiError:
    """How an upload that failed is answered (nothing of it is left stored): the file's fault
    is a 415 with Grid's error keys, a data service or stream that is down a 503, anything else
    the file made the projection fail on a 422; never a bare 500."""
    if isinstance(error, UnsupportedFileType):
        return ApiError(415, "unsupported-type", reason)
    if isinstance(error, LoaderError):
        return ApiError(415, "bad-file", reason)
    if isinstance(error, DownstreamError):
        return ApiError(503, "service-unavailable", reason)
    return ApiError(422, "upload-failed", reason)


@router.post(
    "/images",
    status_code=202,
    summary="Upload an image (the body is the file's bytes)",
    responses={413: {"description": "too large"}, 415: {"description": "refused by the loader"}},
)
async def upload(
    request: Request,
    components: ComponentsDep,
    base: BaseUrl,
    uploaded_by: Annotated[str, Query(alias="uploadedBy")] = "reingest",
    filename: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    data = await read_body(request, components.settings.max_upload_bytes)
    if not data:
        raise ApiError(400, "empty-file", "the request body is empty")
    name = safe_filename(filename)
    image_id = await run_in_threadpool(ingest_upload, components, data, name, uploaded_by)
    return {"uri": f"{base}/images/{image_id}", "data": {"id": image_id}}


@router.get("/images/project/{image_id}", summary="The loader's projection of a stored image")
def project(image_id: ImageId, components: ComponentsDep) -> JSONResponse:
    try:
        image = project_image(components, image_id)
    except ImageNotFound:
        return JSONResponse({"imageId": image_id}, status_code=404)
    except Exception as error:  # Grid's loader answers every other failure so
        return JSONResponse({"imageId": image_id, "exception": error_text(error)}, status_code=500)
    return JSONResponse(image.to_json(), media_type=ARGO_JSON)
