"""The image projection, as the original admin-tools Lambda served it
(``GET /images/projection/{id}``): 200 Image, 404 ``{"message"}``, 500 ``{"message": {...}}``.
The image-loader's ``/images/project/{id}`` (routes/loader.py) answers in Grid's loader shapes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ...backends import Components
from ...errors import ImageNotFound, LoaderError
from ...model import Image
from ..auth import require_key
from ..deps import ComponentsDep
from ..errors import ImageId

log = logging.getLogger(__name__)
router = APIRouter(tags=["projection"], dependencies=[Depends(require_key)])


def project_image(components: Components, image_id: str) -> Image:
    """The full projection (loader + data services); failures other than a missing or
    unreadable original are logged with their traceback before the caller answers them."""
    try:
        return components.local_projector.project(image_id)
    except (ImageNotFound, LoaderError):
        raise
    except Exception:
        log.exception("projection of %s failed", image_id)
        raise


def error_text(error: Exception) -> str:
    """``"CorruptFile: …"``: the class name first, which ``HttpProjector`` reads back."""
    return f"{type(error).__name__}: {error}"


def projection_response(components: Components, image_id: str) -> JSONResponse:
    """The full projection or the Lambda's error shapes."""
    try:
        image = project_image(components, image_id)
    except ImageNotFound:
        return JSONResponse({"message": f"image with id={image_id} not-found"}, status_code=404)
    except Exception as error:  # the Lambda answered every failure as a 500 with its message
        message = error_text(error)
        downstream = getattr(error, "downstream_error_message", message)
        return JSONResponse(
            {"message": {"errorMessage": message, "downstreamErrorMessage": downstream}},
            status_code=500,
        )
    return JSONResponse(image.to_json())


@router.get("/images/projection/{image_id}", summary="Project an image (loader + data services)")
def projection(image_id: ImageId, components: ComponentsDep) -> JSONResponse:
    return projection_response(components, image_id)
