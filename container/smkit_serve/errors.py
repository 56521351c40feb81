"""Errors that carry their HTTP status; one handler turns them into ``{"error": ...}``."""

from __future__ import annotations


class ServingError(Exception):
    """An error answered to the caller with ``status`` and a message saying what to fix."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServingError):
    """The body could not be decoded or does not fit the model (400)."""

    status = 400


class NotAcceptable(ServingError):
    """No type in the Accept header is one the server can produce (406)."""

    status = 406


class PayloadTooLarge(ServingError):
    """The body is over the size limit (413)."""

    status = 413


class UnsupportedMediaType(ServingError):
    """The Content-Type is not one the server decodes (415)."""

    status = 415


class NotReady(ServingError):
    """The model is not loaded or failed its start-up check (503)."""

    status = 503


class ModelError(ServingError):
    """The model itself failed (500); details go to the log, not to the caller."""

    status = 500
