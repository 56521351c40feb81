"""The Flask app: thin routes over ``handler.invoke``, and one JSON error handler."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Flask, Response, request
from smkit_contract import limits
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import handler
from .errors import ServingError
from .model import LoadedModel
from .settings import Settings

log = logging.getLogger("smkit.access")

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_JSON = "application/json"
# Never read more than this of an oversized body while draining it for a clean 413.
_DRAIN_LIMIT = 2 * limits.BATCH_MAX_PAYLOAD_MB * limits.MB


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status=status, mimetype=_JSON)


def _drain_body() -> None:
    """Read what is left of the body so the client sees our 413 rather than a reset."""
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    remaining = _DRAIN_LIMIT
    try:
        while remaining > 0:
            chunk = stream.read(min(1 << 20, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except OSError:
        return


def create_app(settings: Settings, loaded: LoadedModel) -> Flask:
    """Build the WSGI app for ``loaded`` with ``settings``."""
    app = Flask("smkit_serve")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    limit_mb = settings.max_payload_bytes // limits.MB
    where = "in this batch transform" if settings.batch else "on a real-time endpoint"
    execution_parameters = orjson.dumps(
        {
            "MaxConcurrentTransforms": settings.max_concurrent_transforms,
            "BatchStrategy": settings.batch_strategy,
            "MaxPayloadInMB": settings.batch_payload_mb,
        }
    )

    def access(status: int, started: float, **fields: Any) -> None:
        if settings.access_log:
            fields.update(
                method=request.method,
                path=request.path,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 3),
            )
            log.info("request", extra={"fields": fields})

    @app.get("/ping")
    def ping() -> Response:
        if loaded.ready:
            return Response(b"", status=200)
        return _error(503, f"the model is not ready: {loaded.reason}")

    @app.get("/execution-parameters")
    def execution_params() -> Response:
        return Response(execution_parameters, status=200, mimetype=_JSON)

    @app.post("/invocations")
    def invocations() -> Response:
        started = time.perf_counter()
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        try:
            body = request.get_data(cache=False)
            result = handler.invoke(
                loaded,
                body,
                request.headers.get("Content-Type"),
                request.headers.get("Accept"),
                attributes,
                default_accept=settings.default_accept,
                default_output=settings.default_output,
            )
        except RequestEntityTooLarge:
            _drain_body()
            size = request.content_length
            got = f"{size / limits.MB:.1f} MB" if size else "more than that"
            access(413, started)
            return _error(
                413,
                f"the body is {got}; the limit {where} is {limit_mb} MB. Send fewer records "
                "per request (batch transform: lower MaxPayloadInMB or use SplitType=Line)",
            )
        except ServingError as e:
            access(e.status, started, error=e.message)
            return _error(e.status, e.message)
        except SystemExit:
            # gunicorn's timeout aborts the worker mid-request: answer, then let it go.
            from .server import retire_worker

            retire_worker()
            message = (
                f"the request took longer than the {settings.timeout} s limit "
                "(SAGEMAKER_MODEL_SERVER_TIMEOUT); send fewer records per request or raise it"
            )
            access(504, started, error=message)
            return _error(504, message)
        response = Response(result.body, status=200, content_type=result.content_type)
        if attributes is not None:
            response.headers[CUSTOM_ATTRIBUTES] = attributes
        if settings.metering:
            units = result.records if result.records is not None else 1
            response.headers[limits.METERING_HEADER] = (
                f'{{"Dimension": "{limits.METERING_DIMENSION}", "ConsumedUnits": {units}}}'
            )
        access(200, started, records=result.records, bytes_in=len(body))
        return response

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        status = e.code or 500
        if status == 404:
            return _error(404, f"no route {request.path}; use /ping, /invocations or "
                          "/execution-parameters")
        if status == 405:
            return _error(405, f"{request.method} is not allowed on {request.path}")
        if status == 413:
            _drain_body()
            return _error(413, f"the body is over the {limit_mb} MB limit {where}")
        return _error(status, e.description or e.name)

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        log.error("unhandled error", exc_info=e)
        return _error(500, "internal server error; the container log has the details")

    return app
