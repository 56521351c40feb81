"""What several command modules share: one-line file-system errors and stderr notes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from smkit.core.errors import PlatformError

P = ParamSpec("P")
R = TypeVar("R")


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Report a file-system failure as one line (PlatformError), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise PlatformError(f"{e.strerror or e}{where}") from e

    return wrapper


def warn(message: str) -> None:
    """Print a note or warning on stderr (stdout stays for the command's result)."""
    click.echo(message, err=True)
