"""What a local-mode server answered, read from its access log with docker's timestamps."""

from __future__ import annotations

import json

from smkit.local.sdk import served


def _access(at: str, **fields: object) -> str:
    """One access-log line as ``docker logs --timestamps`` prints it."""
    return f"2026-12-06T10:00:{at}Z " + json.dumps({"logger": "smkit.access", **fields})


LOG = "\n".join([
    '2026-12-06T10:00:00.500000000Z {"level": "INFO", "logger": "gunicorn", "msg": "booted"}',
    _access("02.250000000", path="/ping", status=200, ms=0.1),
    _access("03.000000000", path="/invocations", status=200, ms=500.0, records=1000),
    _access("03.900000000", path="/invocations", status=400, ms=2.0, records=7),
    _access("04.500000000", path="/invocations", status=200, ms=400.0, records=800),
]) + "\n"


def test_records_and_span_come_from_successful_invocations_only() -> None:
    got = served(LOG, "2026-12-06T10:00:00.000000000Z")
    assert got.records == 1800  # the 400 answer and /ping are not counted
    # first arrival 03.0 - 0.5 = 02.5; last answer 04.5
    assert abs(got.seconds - 2.0) < 1e-6
    assert got.startup_s is not None
    assert abs(got.startup_s - 2.5) < 1e-6


def test_a_log_with_no_answer_says_so() -> None:
    got = served("2026-12-06T10:00:00.5Z not json\n", None)
    assert (got.records, got.seconds, got.startup_s) == (0, 0.0, None)
