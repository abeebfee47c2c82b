"""The API's error shape: {"error": {"code", "message", ...}} with a fitting status."""
from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error answer; extra keyword fields are added beside code and message."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self):
        """The JSON response for this error."""
        body = {"code": self.code, "message": self.message, **self.extra}
        return jsonify(error=body), self.status


def not_found(what: str) -> ApiError:
    """404 for a missing object, naming it."""
    return ApiError(404, "not_found", f"{what} not found")


def register_error_handlers(bp) -> None:
    """Answer every error under the blueprint in the API's shape, never as an HTML page."""

    @bp.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return err.response()

    @bp.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return _from_http_exception(err)

    def _under_api() -> bool:
        return request.path.startswith(f"{bp.url_prefix}/")

    # Routing errors (no route, wrong method) never reach the blueprint's own handlers.
    @bp.app_errorhandler(404)
    def _unrouted(err):
        if _under_api():
            return ApiError(404, "not_found", f"no API resource at {request.path}").response()
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
    body, status = ApiError(err.code or 500, code, err.description or err.name).response()
    headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
    return body, status, headers
