"""The HTTP face: one FastAPI app per ``Components``, built by ``create_app`` (no import-time
globals). Grid's paths and envelopes; each Grid data service under ``/services/<name>``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from ..backends import Components
from .auth import Auth, require_login
from .control import Scheduler, Tasks, ThroughputSampler
from .errors import install_error_handlers
from .routes import admin, audit, dashboard, loader, media_api, migration, projection, services

log = logging.getLogger(__name__)

#: how often the background task samples progress for the throughput chart
SAMPLE_SECONDS = 10.0


def create_app(
    components: Components,
    *,
    api_keys: Sequence[str] | None = None,
    insecure_no_auth: bool = False,
    sample_seconds: float = SAMPLE_SECONDS,
) -> FastAPI:
    """The server over these backends; keys default to the settings' ``api_keys``. Without
    keys it refuses to build unless ``insecure_no_auth`` says so."""
    keys = components.settings.api_keys if api_keys is None else tuple(api_keys)
    auth = Auth(keys, insecure_no_auth=insecure_no_auth)
    scheduler = Scheduler(components)
    sampler = ThroughputSampler(min_interval=sample_seconds / 2)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sampling = asyncio.create_task(_sample_forever(components, sampler, sample_seconds))
        try:
            yield
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            await run_in_threadpool(scheduler.stop)

    app = FastAPI(
        title="reingest",
        summary="Rebuild a Grid-style media library's search index; Grid's service endpoints.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.components = components
    app.state.auth = auth
    app.state.scheduler = scheduler
    app.state.sampler = sampler
    app.state.tasks = Tasks()
    install_error_handlers(app)
    # loader before media-api: /images/project/{id} and /images/projection/{id} are not ids
    for router in (
        admin.health_router,
        dashboard.router,
        dashboard.pages,
        migration.pages,
        audit.pages,
        loader.router,
        projection.router,
        services.router,
        media_api.router,
        admin.router,
        migration.router,
    ):
        app.include_router(router)
    _add_docs(app)
    return app


def _add_docs(app: FastAPI) -> None:
    """OpenAPI and Swagger UI, behind the login like the rest."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_login)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_login)])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="reingest API")


async def _sample_forever(components: Components, sampler: ThroughputSampler, every: float) -> None:
    """Throughput is measured even while nobody looks at the dashboard."""
    while True:
        try:
            counts = await run_in_threadpool(components.progress.counts)
            sampler.sample(counts)
        except Exception:  # a hiccup of the store must not end sampling for good
            log.exception("progress sample failed")
        await asyncio.sleep(every)
