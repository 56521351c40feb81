"""Fixtures for the listing tests: offline AWS settings, and the moto and Catalog emulator
servers started as real subprocesses on free ports.

After each test, the second oracle (``catalog_oracle``, from AWS's published schemas) judges
every change set the test left on a Catalog emulator (``listing_kit.CATALOGS``) and every
StartChangeSet request it wrote as JSON under its ``tmp_path`` (``listing render``); the test
fails when the oracle and smkit disagree, naming both verdicts.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from catalog_oracle import Watch, disagreement, failures, written_requests
from listing_kit import CATALOGS, Server, start_catalog, stop, wait_http
from smkit.listing.rules import all_rules
from smkit_testkit import free_port

WATCH = Watch(cited={r.id: r.source for r in all_rules()})
#: The StartChangeSet requests found written under the tests' tmp_path.
RENDERED: list[Path] = []
#: Seconds spent judging.
SPENT = [0.0]


def judge(item: pytest.Item) -> list[str]:
    """Where the oracle and smkit disagree on the change sets this test made."""
    started = time.monotonic()
    try:
        return _judge(item)
    finally:
        SPENT[0] += time.monotonic() - started


def _judge(item: pytest.Item) -> list[str]:
    problems = failures([c for server in CATALOGS if server.proc.poll() is None
                         for c in WATCH.new(server.url, f"{server.url} pid {server.proc.pid}")])
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if isinstance(tmp, Path):
        for path, request in written_requests(tmp):
            RENDERED.append(path)
            found = disagreement(request, "smkit: written by the test's commands to be sent",
                                 [], WATCH.cited)
            if found:
                problems.append(f"the StartChangeSet request in {path}: the engines disagree."
                                f"\n  {found}")
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Fail the test that made a change set the oracle and smkit disagree on."""
    try:
        result = yield
    except BaseException as e:
        problems = judge(item)
        if problems:
            e.add_note("\n".join(problems))
        raise
    problems = judge(item)
    if problems:
        pytest.fail("the second oracle disagrees with smkit:\n" + "\n".join(problems),
                    pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many change sets the oracle judged in this run, and how the verdicts fell."""
    if WATCH.checked or RENDERED:
        tally = Counter((f"emulator {'refuses' if c.refused else 'accepts'}, "
                         f"oracle {'refuses' if c.found else 'accepts'}") for c in WATCH.checked)
        terminalreporter.write_line(
            f"catalog oracle: {len(WATCH.checked)} change sets on Catalog emulators "
            f"({', '.join(f'{n} {k}' for k, n in sorted(tally.items()))}) and {len(RENDERED)} "
            f"written under tmp_path judged against smkit in {SPENT[0]:.1f} s")


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region: nothing may reach real AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def moto() -> Iterator[Server]:
    """A moto server (SageMaker, S3) on a free port."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # it logs every request
    )
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        wait_http(server.url, proc)
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def catalog(moto: Server) -> Iterator[Server]:
    """The Catalog emulator, reading model packages from the moto server."""
    server = start_catalog(moto.url)
    try:
        yield server
    finally:
        stop(server.proc)
