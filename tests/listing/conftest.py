"""Fixtures for the listing tests: offline AWS settings, and the moto and Catalog emulator
servers started as real subprocesses on free ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from listing_kit import Server, start_catalog, stop, wait_http
from smkit_testkit import free_port


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
