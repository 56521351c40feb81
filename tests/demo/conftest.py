"""The demo tests read the suite's one ``smkit demo`` run (``demo_run`` in seller_fixtures.py:
the installed wheel runs it) and use its model package and emulators instead of making their
own.

After each test that uses the demo's run, the second oracle (``catalog_oracle``, from AWS's
published schemas) judges every change set on the demo's Catalog emulator not judged yet: the
demo's own, and those of the tests (the seller notebook, the demo run again); the test fails
when the oracle and the emulator disagree, naming both verdicts.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from catalog_oracle import Checked, Watch, failures
from smkit.listing.rules import all_rules
from wheel_kit import DemoRun

CATALOG_URL = "AWS_ENDPOINT_URL_MARKETPLACE_CATALOG"
WATCH = Watch(cited={r.id: r.source for r in all_rules()})


def judged_on_the_demo(run: DemoRun) -> list[Checked]:
    """Judge what is new on the demo's Catalog emulator; every change set judged there so far."""
    url = run.env[CATALOG_URL]
    WATCH.new(url)
    return [c for c in WATCH.checked if c.where.endswith(url)]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Fail the test that made a change set the oracle and the emulator disagree on."""
    run = getattr(item, "funcargs", {}).get("demo_run")
    if not isinstance(run, DemoRun) or CATALOG_URL not in run.env:
        return (yield)
    before = len(WATCH.checked)
    try:
        result = yield
    except BaseException as e:
        judged_on_the_demo(run)
        if problems := failures(WATCH.checked[before:]):
            e.add_note("\n".join(problems))
        raise
    judged_on_the_demo(run)
    if problems := failures(WATCH.checked[before:]):
        pytest.fail("the second oracle disagrees with the Catalog emulator:\n"
                    + "\n".join(problems), pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many change sets the oracle judged on the demo's emulator."""
    if WATCH.checked:
        terminalreporter.write_line(f"catalog oracle: {len(WATCH.checked)} change sets on the "
                                    "demo's Catalog emulator judged against it")


@pytest.fixture
def demo_change_sets(demo_run: DemoRun) -> list[Checked]:
    """Every change set on the demo's Catalog emulator, judged (what the demo published
    first)."""
    return judged_on_the_demo(demo_run)


@pytest.fixture
def demo_env(demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process (and the kernels and commands it starts) pointed at the demo's emulators."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in demo_run.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SMKIT_HOME", str(demo_run.out))
    return {**os.environ}
