"""The API's error shape: {"error": {"code", "message", ...}} with a fitting status."""
from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from console.actions.errors import ActionError


class ApiError(ActionError):
    """A refusal of the API's own (auth, request shape), written status first."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(code, message, status=status, field=field, **extra)
        self.headers = headers or {}


def error_response(err: ActionError):
    """The JSON response for a refusal (with its headers, such as a 401's WWW-Authenticate)."""
    return jsonify(error=err.body()), err.status, getattr(err, "headers", {})


def register_error_handlers(bp) -> None:
    """Answer every error under the blueprint in the API's shape, never as an HTML page."""

    @bp.errorhandler(ActionError)
    def _refused(err: ActionError):
        return error_response(err)

    @bp.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return _from_http_exception(err)

    def _under_api() -> bool:
        return request.path.startswith(f"{bp.url_prefix}/")

    # Routing errors (no route, wrong method) never reach the blueprint's own handlers.
    @bp.app_errorhandler(404)
    def _unrouted(err):
        if _under_api():
            return error_response(ApiError(404, "not_found", f"no API resource at {request.path}"))
        return err

    @bp.app_errorhandler(405)
    def _wrong_method(err):
        if _under_api():
            return _from_http_exception(err)
        return err  # console pages keep their HTML answer


def _from_http_exception(err: HTTPException):
    """An HTTP error in the API's shape, keeping its headers (Allow on a 405)."""
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        err.code, "http_error")
    body, status, _ = error_response(ApiError(err.code or 500, code, err.description or err.name))
    headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
    return body, status, headers
