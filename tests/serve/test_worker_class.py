"""Which gunicorn worker serves, and whether its requests get their own time limit."""

from __future__ import annotations


def test_one_decision_says_threaded_for_the_worker_class_and_the_request_time_limit() -> None:
    """gthread with one thread is still gthread: its requests need their own time limit."""
    from smkit_serve.server import DrainingThreadWorker, SideDoorSyncWorker, worker_class
    from smkit_serve.settings import Settings

    for settings, threaded in ((Settings(worker_class="gthread", threads=1), True),
                               (Settings(worker_class="sync", threads=2), True),
                               (Settings(), False)):
        assert settings.threaded is threaded
        assert worker_class(settings) is (DrainingThreadWorker if threaded
                                          else SideDoorSyncWorker)
