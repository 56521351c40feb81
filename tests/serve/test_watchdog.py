"""The request time limit of threaded and sync workers, in process: the 504 goes out on the
client's socket when the limit passes, and the request keeps one access line (its 504)."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from smkit_serve.app import create_app
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
from smkit_serve.settings import Settings
from smkit_serve.watchdog import model_library
from smkit_testkit import save_model

SLOW_HOOKS = """
import time

def predict_fn(data, model):
    if float(data[0][0]) == 99.0:  # marks a request that takes a while
        time.sleep(1.5)
    return model.predict(data)
"""


def test_a_request_past_its_limit_answers_504_once_and_logs_it_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    X = np.random.default_rng(0).normal(size=(40, 4))
    model_dir = save_model(DecisionTreeClassifier().fit(X, X[:, 0] > 0), tmp_path)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(SLOW_HOOKS)
    settings = Settings(model_dir=str(model_dir), worker_class="gthread", threads=2, timeout=1)
    loaded = load_model(settings.model_dir, settings.program)
    smoke_check(loaded, settings.model_dir)
    client = create_app(settings, loaded).test_client()
    ours, theirs = socket.socketpair()
    with ours, theirs, caplog.at_level(logging.INFO, logger="smkit.access"):
        started = time.monotonic()
        r = client.post("/invocations", data=b"99,1,2,3", content_type="text/csv",
                        environ_base={"gunicorn.socket": ours})
        took = time.monotonic() - started
        theirs.settimeout(5)
        on_the_wire = theirs.recv(65536)
        fast = client.post("/invocations", data=b"1,1,2,3", content_type="text/csv",
                           environ_base={"gunicorn.socket": socket.socket()})
    assert on_the_wire.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
    assert b"SAGEMAKER_MODEL_SERVER_TIMEOUT" in on_the_wire
    assert took >= 1.4, "the request thread returned before the model did"
    # The late answer goes nowhere: the WSGI answer is an empty 504 that closes.
    assert r.status_code == 504
    assert r.data == b""
    lines = [rec for rec in caplog.records if rec.name == "smkit.access"]
    statuses = [rec.fields.get("status") for rec in lines]  # type: ignore[attr-defined]
    assert statuses == [504, None, 200], [(rec.getMessage(), rec.fields) for rec in lines]  # type: ignore[attr-defined]
    late = lines[1]
    assert late.getMessage() == "late answer dropped"
    assert late.fields["dropped_status"] == 200  # type: ignore[attr-defined]
    assert fast.status_code == 200


def test_a_sync_worker_answers_504_itself_before_gunicorn_kills_it(tmp_path: Path) -> None:
    """A model stuck in native code never sees gunicorn's abort signal: the watchdog answers
    first, naming the model's library and the likely cause on the first line."""
    X = np.random.default_rng(0).normal(size=(40, 4))
    model_dir = save_model(DecisionTreeClassifier().fit(X, X[:, 0] > 0), tmp_path)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(SLOW_HOOKS)
    settings = Settings(model_dir=str(model_dir), worker_class="sync", timeout=1)
    loaded = load_model(settings.model_dir, settings.program)
    smoke_check(loaded, settings.model_dir)
    client = create_app(settings, loaded).test_client()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        client.post("/invocations", data=b"99,1,2,3", content_type="text/csv",
                    environ_base={"gunicorn.socket": ours})
        theirs.settimeout(5)
        on_the_wire = theirs.recv(65536)
    assert on_the_wire.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
    error = json.loads(on_the_wire.split(b"\r\n\r\n", 1)[1])["error"]
    assert error.startswith("the sklearn model did not answer within the 1 s limit"), error
    assert "native thread pool" in error.splitlines()[0]
    assert time.monotonic() - started >= 1.4


def test_the_library_named_is_the_last_step_of_a_pipeline() -> None:
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _Foreign())])
    assert model_library(pipe) == "foreign_lib"
    assert model_library(DecisionTreeClassifier()) == "sklearn"


class _Foreign:
    """Stands for an estimator of another library."""


_Foreign.__module__ = "foreign_lib.models"
