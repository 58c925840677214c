"""Grid's media-api, read side: the indexed document of an image, and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ... import migration
from ..auth import require_key
from ..deps import BaseUrl, ComponentsDep
from ..errors import ApiError, ImageId

router = APIRouter(tags=["media-api"], dependencies=[Depends(require_key)])

#: query parameters of the search itself; every other one filters on a document field
SEARCH_PARAMETERS = frozenset({"q", "length", "offset"})
#: how deep a page may start (Elasticsearch refuses from + size past its max_result_window)
MAX_OFFSET = 100_000
#: words in ``q`` and field filters per search: enough for a person, bounded for the engine
MAX_WORDS = 50
MAX_FILTERS = 20


@router.get("/images/{image_id}", summary="The indexed document of an image")
def get_image(image_id: ImageId, components: ComponentsDep, base: BaseUrl) -> dict[str, Any]:
    document = components.index.get(image_id)
    if document is None:
        raise ApiError(404, "image-not-found", f"no image with id {image_id} in the index")
    return {"uri": f"{base}/images/{image_id}", "data": document}


@router.get(
    "/images",
    summary="Search the index",
    description="`q`: words that must all appear; any other parameter (e.g. `uploadedBy`, "
    "`metadata.credit`) must equal the document's field.",
)
def search(
    request: Request,
    components: ComponentsDep,
    base: BaseUrl,
    q: str | None = None,
    length: Annotated[int, Query(ge=0, le=200)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    filters = {k: v for k, v in request.query_params.items() if k not in SEARCH_PARAMETERS}
    if q is not None and len(q.split()) > MAX_WORDS:
        raise ApiError(400, "invalid-query", f"q may hold at most {MAX_WORDS} words")
    if len(filters) > MAX_FILTERS:
        raise ApiError(400, "invalid-filter", f"at most {MAX_FILTERS} field filters per search")
    try:
        searched = migration.search_index(components.index)
        total, documents = searched.search(q, filters, length, offset)
    except NotImplementedError as error:
        raise ApiError(501, "search-unsupported", str(error)) from None
    except ValueError as error:
        raise ApiError(400, "invalid-filter", str(error)) from None
    return {
        "offset": offset,
        "length": len(documents),
        "total": total,
        "data": [{"uri": f"{base}/images/{doc['id']}", "data": doc} for doc in documents],
    }
