"""The demo tests read the suite's one ``smkit demo`` run (``demo_run`` in seller_fixtures.py:
the installed wheel runs it) and use its model package and emulators instead of making their
own."""

from __future__ import annotations

import os

import pytest
from wheel_kit import DemoRun


@pytest.fixture
def demo_env(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and the kernels and commands it starts) pointed at the demo's emulators."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in demo_run.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMKIT_HOME", str(demo_run.out))
    return {**os.environ}
