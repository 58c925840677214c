"""Grid's error bodies (``{"errorKey", "errorMessage"}``) and the checks every route shares."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from ..ids import normalise_id


class ApiError(Exception):
    """Answered as ``{"errorKey": key, "errorMessage": message}`` with this status."""

    def __init__(self, status: int, key: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.key = key
        self.message = message


class LoginRequired(Exception):
    """A dashboard page asked for without a session: off to the login form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def error_body(key: str, message: str) -> dict[str, str]:
    return {"errorKey": key, "errorMessage": message}


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return JSONResponse(error_body(error.key, error.message), status_code=error.status)

    async def login_required(_request: Request, error: Exception) -> RedirectResponse:
        assert isinstance(error, LoginRequired)
        return RedirectResponse(f"/login?next={quote(error.path)}", status_code=303)

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        """FastAPI's 422 for parameters or bodies that fail validation, as Grid answers: 400."""
        assert isinstance(error, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()[:5]
        )
        return JSONResponse(error_body("invalid-request", problems), status_code=400)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(RequestValidationError, invalid_request)


def checked_id(image_id: str) -> str:
    """A Grid image id exactly (40 lower-case hex digits), before any file or database access:
    anything else could name a path or widen a query."""
    if normalise_id(image_id) != image_id:
        raise ApiError(400, "invalid-id", "an image id is 40 lower-case hex digits (SHA-1)")
    return image_id


ImageId = Annotated[str, Depends(checked_id)]
