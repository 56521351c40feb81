"""What a local-mode server answered, read from its access log with docker's timestamps."""

from __future__ import annotations

from smkit.local.sdk import served

LOG = """\
2026-12-06T10:00:00.500000000Z {"level": "INFO", "logger": "gunicorn", "msg": "booted"}
2026-12-06T10:00:02.250000000Z {"logger": "smkit.access", "path": "/ping", "status": 200, "ms": 0.1}
2026-12-06T10:00:03.000000000Z {"logger": "smkit.access", "path": "/invocations", "status": 200, "ms": 500.0, "records": 1000}
2026-12-06T10:00:03.900000000Z {"logger": "smkit.access", "path": "/invocations", "status": 400, "ms": 2.0, "records": 7}
2026-12-06T10:00:04.500000000Z {"logger": "smkit.access", "path": "/invocations", "status": 200, "ms": 400.0, "records": 800}
"""


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
