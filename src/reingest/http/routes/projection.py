"""The image projection, as the original admin-tools Lambda served it
(``GET /images/projection/{id}``): 200 Image, 404 ``{"message"}``, 500 ``{"message": {...}}``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ...backends import Components
from ...errors import ImageNotFound, LoaderError
from ..auth import require_key
from ..deps import ComponentsDep
from ..errors import ImageId

log = logging.getLogger(__name__)
router = APIRouter(tags=["projection"], dependencies=[Depends(require_key)])


def projection_response(components: Components, image_id: str) -> JSONResponse:
    """The full projection (loader + data services) or the Lambda's error shapes; the loader's
    ``/images/project/{id}`` answers the same way."""
    try:
        image = components.local_projector.project(image_id)
    except ImageNotFound:
        return JSONResponse({"message": f"image with id={image_id} not-found"}, status_code=404)
    except Exception as error:  # the Lambda answered every failure as a 500 with its message
        if not isinstance(error, LoaderError):
            log.exception("projection of %s failed", image_id)
        message = f"{type(error).__name__}: {error}"
        downstream = getattr(error, "downstream_error_message", message)
        return JSONResponse(
            {"message": {"errorMessage": message, "downstreamErrorMessage": downstream}},
            status_code=500,
        )
    return JSONResponse(image.to_json())


@router.get("/images/projection/{image_id}", summary="Project an image (loader + data services)")
def projection(image_id: ImageId, components: ComponentsDep) -> JSONResponse:
    return projection_response(components, image_id)
