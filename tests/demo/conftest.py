"""One ``smkit demo`` run per session, with its emulators kept up: the other demo tests
(buyer transform, notebooks) use its model package and emulators instead of making their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from demo_kit import DemoRun, run_demo
from smkit.emulators import manager


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, image: str) -> Iterator[DemoRun]:
    """The demo, once per session, into a tmp folder; its emulators are stopped at the end."""
    out = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    proc = run_demo(out, image)
    try:
        assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        services = manager.read_state(out)
        assert manager.healthy(services), "--keep-emulators left no running emulators"
        yield DemoRun(out, proc.stdout, proc.stderr, time.monotonic() - started,
                      manager.environ(services))
    finally:
        manager.down(out)


@pytest.fixture
def demo_env(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and the kernels and commands it starts) pointed at the demo's emulators."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in demo_run.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMKIT_HOME", str(demo_run.out))
    return {**os.environ}
