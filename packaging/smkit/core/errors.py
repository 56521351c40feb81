"""The two kinds of failure the CLI reports: the user's (fix your input) and the platform's."""

from __future__ import annotations


class SmkitError(Exception):
    """Base of smkit's expected errors; the CLI prints the message, never a traceback."""

    exit_code = 1


class UserError(SmkitError):
    """Something the user gave is wrong (a spec field, a file, a flag); says how to fix it."""

    exit_code = 2


class PlatformError(SmkitError):
    """AWS, Docker or an emulator refused or failed; says what it answered."""

    exit_code = 1
