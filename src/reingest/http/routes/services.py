"""Grid's data services, each under its own prefix so that a "service base URL" such as
``http://host:port/services/leases`` behaves like the real service (``services/http.py`` is the
client of exactly these routes, generated from the same ``GRID_ENDPOINTS`` table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ...errors import DownstreamError
from ...model import GridModel
from ...services.base import ImageData
from ...services.http import GRID_ENDPOINTS, GridEndpoint
from ..auth import require_key
from ..deps import BaseUrl, ComponentsDep
from ..errors import ImageId, error_body

PREFIX = "/services"
router = APIRouter(prefix=PREFIX, tags=["data services"], dependencies=[Depends(require_key)])

#: the one service that answers 200 even when it knows nothing
ALWAYS_ANSWERS = frozenset({"leases"})


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value.to_json() if isinstance(value, GridModel) else value


def _route(name: str, endpoint: GridEndpoint) -> Callable[..., JSONResponse]:
    def serve(image_id: ImageId, components: ComponentsDep, base: BaseUrl) -> JSONResponse:
        try:
            data: ImageData = components.services.fetch(image_id)
        except DownstreamError as error:
            message = {"errorMessage": str(error), "downstreamErrorMessage": str(error)}
            return JSONResponse({"message": message}, status_code=500)
        value = getattr(data, name)
        if not value and name not in ALWAYS_ANSWERS:
            return JSONResponse(
                error_body("not-found", f"no {name} for image {image_id}"), status_code=404
            )
        body = _json(value)
        if endpoint.entities:
            root = f"{base}{PREFIX}/{endpoint.service}/{name}"
            body = [{"uri": f"{root}/{quote(item['id'], safe='')}", "data": item} for item in body]
        return JSONResponse({"data": body})

    serve.__name__ = f"get_{name}"
    return serve


for _name, _endpoint in GRID_ENDPOINTS.items():
    router.add_api_route(
        f"/{_endpoint.service}{_endpoint.path.replace('{id}', '{image_id}')}",
        _route(_name, _endpoint),
        methods=["GET"],
        summary=f"{_name} of an image (Grid's {_endpoint.service} service)",
    )
