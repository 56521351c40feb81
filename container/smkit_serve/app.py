"""The WSGI app: thin routes over ``handler.invoke``, and one JSON error shape.

``Service`` answers each endpoint as ``(status, headers, body)`` from the WSGI environ.
Flask routes expose it (and give JSON 404/405s); ``HotPath``, installed as Flask's
``wsgi_app`` middleware, serves ``POST /invocations`` and ``GET /ping`` straight from the
same ``Service`` without building Flask request and response objects, which cost about as
much as a small model's predict (see bench/README.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, request
from smkit_contract import limits
from werkzeug.exceptions import HTTPException

from . import handler
from .errors import PayloadTooLarge, ServingError
from .model import LoadedModel
from .settings import Settings
from .watchdog import Watchdog, request_timeout_message

log = logging.getLogger("smkit.access")

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_JSON = "application/json"
_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# Never read more than this of an oversized body while draining it for a clean 413.
_DRAIN_LIMIT = 2 * limits.BATCH_MAX_PAYLOAD_MB * limits.MB

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]
#: How long before its limit a sync worker's request answers 504 itself (see Service).
SYNC_ANSWER_EARLY_S = 0.25
StartResponse = Callable[..., Any]


def error_answer(status: int, message: str) -> Answer:
    """The JSON error body every failure gets: ``{"error": "..."}``."""
    return status, [("Content-Type", _JSON)], orjson.dumps({"error": message})


def _drain(stream: Any, remaining: int = _DRAIN_LIMIT) -> None:
    """Read what is left of a body so the client sees our 413 rather than a reset."""
    try:
        while remaining > 0:
            chunk = stream.read(min(1 << 20, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except (OSError, ValueError):
        return


class Service:
    """The endpoints as plain functions of the WSGI environ."""

    def __init__(self, settings: Settings, loaded: LoadedModel) -> None:
        """Precompute what does not change between requests."""
        self.settings = settings
        self.loaded = loaded
        self.limit = settings.max_payload_bytes
        self.timeout_message = request_timeout_message(loaded.model, settings.timeout)
        # gunicorn's master SIGKILLs a sync worker a moment after the limit when its abort
        # cannot be handled (the model is stuck in native code): answer just before that.
        self.watchdog_seconds = (settings.timeout if settings.threaded
                                 else max(0.5, settings.timeout - SYNC_ANSWER_EARLY_S))
        where = "in this batch transform" if settings.batch else "on a real-time endpoint"
        self.too_large = (
            f"the limit {where} is {self.limit // limits.MB} MB. Send fewer records per "
            "request (batch transform: lower MaxPayloadInMB or use SplitType=Line)"
        )
        self.execution_parameters = orjson.dumps(
            {
                "MaxConcurrentTransforms": settings.max_concurrent_transforms,
                "BatchStrategy": settings.batch_strategy,
                "MaxPayloadInMB": settings.batch_payload_mb,
            }
        )

    def ping(self) -> Answer:
        """200 once the model loaded and its start-up prediction passed, else 503 and why."""
        if self.loaded.ready:
            return 200, [], b""
        return error_answer(503, f"the model is not ready: {self.loaded.reason}")

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        length_header = environ.get("CONTENT_LENGTH") or ""
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                raise PayloadTooLarge("Content-Length is not a number") from None
            if length > self.limit:
                _drain(stream, min(length, _DRAIN_LIMIT))
                raise PayloadTooLarge(f"the body is {length / limits.MB:.1f} MB; {self.too_large}")
            return bytes(stream.read(length)) if length else b""
        # Chunked (MaxPayloadInMB=0 streams bodies): read one byte past the limit to tell.
        body = bytes(stream.read(self.limit + 1))
        if len(body) > self.limit:
            _drain(stream)
            raise PayloadTooLarge(f"the body is over the limit; {self.too_large}")
        return body

    def invocations(self, environ: dict[str, Any]) -> Answer:
        """Decode, predict and encode one request; every failure is a JSON error."""
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            return self._invocations_with_watchdog(environ, sock)
        return self._invocations(environ)

    def _invocations_with_watchdog(self, environ: dict[str, Any], sock: Any) -> Answer:
        """Under gunicorn: the time limit is this request's own (see watchdog.py)."""
        from .server import retire_worker

        started = time.perf_counter()

        def timed_out() -> None:
            retire_worker()
            self._access(504, started, error=self.timeout_message)

        dog = Watchdog(sock, self.watchdog_seconds, self.timeout_message, timed_out)

        def access(status: int, started: float, **fields: Any) -> None:
            # The request's one access line is its 504 once the watchdog has answered; the
            # late answer gets a line of its own, with no status of its own.
            if dog.claim():
                self._access(status, started, **fields)
            elif self.settings.access_log:
                log.warning("late answer dropped", extra={"fields": {
                    "path": "/invocations", "dropped_status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 3)}})

        answer = self._invocations(environ, access)
        if dog.fired:
            # Already answered 504 on the socket, which is closed: this answer goes nowhere.
            return 504, [("Content-Type", _JSON), ("Connection", "close")], b""
        return answer

    def _invocations(self, environ: dict[str, Any],
                     access: Callable[..., None] | None = None) -> Answer:
        """The answer to one request; ``access`` (default: the access log) is told of it
        just before it is returned."""
        access = access or self._access
        started = time.perf_counter()
        attributes = environ.get("HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES")
        body = b""
        try:
            body = self._read_body(environ)
            result = handler.invoke(
                self.loaded,
                body,
                environ.get("CONTENT_TYPE"),
                environ.get("HTTP_ACCEPT"),
                attributes,
                default_accept=self.settings.default_accept,
                default_output=self.settings.default_output,
            )
        except ServingError as e:
            access(e.status, started, error=e.message)
            return error_answer(e.status, e.message)
        except SystemExit:
            # gunicorn's timeout aborts the worker mid-request: answer, then let it go.
            from .server import retire_worker

            retire_worker()
            message = self.timeout_message
            access(504, started, error=message)
            return error_answer(504, message)
        except Exception as e:
            log.error("unhandled error", exc_info=e)
            access(500, started, error="unhandled")
            return error_answer(500, "internal server error; the container log has the details")
        headers: Headers = [("Content-Type", result.content_type)]
        if attributes is not None:
            headers.append((CUSTOM_ATTRIBUTES, attributes))
        if self.settings.metering:
            units = result.records if result.records is not None else 1
            headers.append(
                (
                    limits.METERING_HEADER,
                    f'{{"Dimension": "{limits.METERING_DIMENSION}", "ConsumedUnits": {units}}}',
                )
            )
        access(200, started, records=result.records, bytes_in=len(body))
        return 200, headers, result.body

    def _access(self, status: int, started: float, **fields: Any) -> None:
        if self.settings.access_log:
            fields.update(
                path="/invocations", status=status,
                ms=round((time.perf_counter() - started) * 1000, 3),
            )
            log.info("request", extra={"fields": fields})


class HotPath:
    """WSGI middleware serving /invocations and /ping from ``Service`` without Flask."""

    def __init__(self, service: Service, fallback: Callable[..., Iterable[bytes]]) -> None:
        """Wrap Flask's ``wsgi_app`` (``fallback``) for every other request."""
        self.service = service
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Dispatch one WSGI request."""
        path = environ.get("PATH_INFO")
        method = environ.get("REQUEST_METHOD")
        if path == "/invocations" and method == "POST":
            status, headers, body = self.service.invocations(environ)
        elif path == "/ping" and method == "GET":
            status, headers, body = self.service.ping()
        else:
            return self.fallback(environ, start_response)
        headers.append(("Content-Length", str(len(body))))
        start_response(_STATUS_LINES[status], headers)
        return [body]


def _response(answer: Answer) -> Response:
    status, headers, body = answer
    return Response(body, status=status, headers=headers)


def create_app(settings: Settings, loaded: LoadedModel) -> Flask:
    """Build the WSGI app for ``loaded`` with ``settings``."""
    service = Service(settings, loaded)
    app = Flask("smkit_serve")

    @app.get("/ping")
    def ping() -> Response:
        return _response(service.ping())

    @app.post("/invocations")
    def invocations() -> Response:
        return _response(service.invocations(request.environ))

    @app.get("/execution-parameters")
    def execution_params() -> Response:
        return Response(service.execution_parameters, status=200, mimetype=_JSON)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        status = e.code or 500
        if status == 404:
            return _response(error_answer(
                404, f"no route {request.path}; use /ping, /invocations or /execution-parameters"
            ))
        if status == 405:
            allowed = ", ".join(getattr(e, "valid_methods", None) or [])
            message = f"{request.method} is not allowed on {request.path}; use {allowed}"
            code, headers, body = error_answer(405, message)
            return _response((code, [*headers, ("Allow", allowed)], body))
        return _response(error_answer(status, e.description or e.name))

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        log.error("unhandled error", exc_info=e)
        message = "internal server error; the container log has the details"
        return _response(error_answer(500, message))

    app.wsgi_app = HotPath(service, app.wsgi_app)  # type: ignore[method-assign]
    return app
