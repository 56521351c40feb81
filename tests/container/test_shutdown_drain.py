"""SIGTERM drains: every connection the kernel accepted before SIGTERM gets its answer.

SageMaker sends SIGTERM, then SIGKILL 30 s later (../shared/docs/sagemaker-contract.md).
Connections waiting in the listen backlog behind busy workers were accepted by the kernel
and must be answered too, as TorchServe and KServe finish their queued requests before
stopping. The model is a LinearRegression whose answers differ per row, so a lost or mixed
up answer shows; its predict_fn sleeps when the first feature is a marker (>= 100).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from smkit_testkit import docker, save_model

pytestmark = pytest.mark.container

SLEEPY_HOOKS = """
import time

def predict_fn(data, model):
    # A first feature of 100 or more marks a request that takes SLEEP seconds.
    if float(data[0][0]) >= 100:
        time.sleep(1.5)
    return model.predict(data)
"""

WORKERS = 2
QUEUED = 6  # more than the workers: these wait in the listen backlog


@pytest.fixture(scope="module")
def sleepy_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    X, y = load_diabetes(return_X_y=True)
    d = save_model(LinearRegression().fit(X, y), tmp_path_factory.mktemp("sleepy"))
    (d / "code").mkdir()
    (d / "code" / "inference.py").write_text(SLEEPY_HOOKS)
    return d


def _raw_post(port: int, body: bytes, out: dict[int, tuple[int, bytes] | str], key: int,
              connected: threading.Event) -> None:
    """One HTTP/1.1 POST on its own socket; records (status, body) or the error."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=40) as s:
            connected.set()
            s.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                b"Accept: text/csv\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
        raw = b"".join(chunks)
        if not raw:
            out[key] = "connection closed with no answer"
            return
        head, _, payload = raw.partition(b"\r\n\r\n")
        out[key] = (int(head.split()[1]), payload)
    except OSError as e:
        out[key] = f"{type(e).__name__}: {e}"


@pytest.mark.parametrize(
    ("worker_class", "batch", "net_admin"),
    [("sync", False, False), ("sync", True, False), ("gthread", False, False),
     ("gthread", True, False), ("sync", False, True)],
    ids=["sync-realtime", "sync-batch", "gthread-realtime", "gthread-batch",
         "sync-realtime-net-admin"],
)
def test_sigterm_answers_every_queued_request_then_exits_0(
    container_factory, sleepy_model_dir: Path, batch: bool, worker_class: str,
    net_admin: bool,
) -> None:
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS), "SMKIT_WORKER_CLASS": worker_class,
           "SMKIT_ACCESS_LOG": "false", "SMKIT_LOG_LEVEL": "DEBUG"}
    if batch:
        env["SAGEMAKER_BATCH"] = "true"
    # With CAP_NET_ADMIN the workers can close admission exactly (a drop-all socket filter);
    # Docker does not grant it by default, and then the backlog is cut to 0 instead.
    docker_args = ("--cap-add", "NET_ADMIN") if net_admin else ()
    c = container_factory(sleepy_model_dir, env=env, docker_args=docker_args)
    model = joblib.load(sleepy_model_dir / "model.joblib")

    total = WORKERS + QUEUED
    rows = [[100.0 + i] + [0.01 * (i + 1)] * 9 for i in range(total)]
    expected = model.predict(np.array(rows))

    out: dict[int, tuple[int, bytes] | str] = {}
    threads = []
    for i, row in enumerate(rows):
        connected = threading.Event()
        body = ",".join(repr(v) for v in row).encode()
        t = threading.Thread(target=_raw_post, args=(c.port, body, out, i, connected))
        t.start()
        threads.append(t)
        assert connected.wait(5), f"request {i} could not connect"
        if i < WORKERS:
            time.sleep(0.3)  # the first ones reach the workers; the rest queue behind them
    time.sleep(0.5)
    t0 = time.monotonic()
    docker("kill", "--signal", "TERM", c.name)
    if net_admin:
        # A client arriving after SIGTERM is not let in (SageMaker stops routing first).
        time.sleep(0.5)
        late = threading.Thread(target=_raw_post, args=(c.port, b"1,2,3,4,5,6,7,8,9,10", out,
                                                        -1, threading.Event()))
        late.start()
        threads.append(late)
    docker("wait", c.name, timeout=60)
    exited_after = time.monotonic() - t0
    for t in threads:
        t.join(timeout=40)

    if net_admin:
        assert not (isinstance(out[-1], tuple) and out[-1][0] == 200), out[-1]
        assert "admission closed" in c.logs()
    answered = {i: r for i, r in out.items()
                if i >= 0 and isinstance(r, tuple) and r[0] == 200}
    print(f"\ndrain[{worker_class}, batch={batch}]: {len(answered)}/{total} answered, "
          f"exit after {exited_after:.1f}s")
    assert len(answered) == total, {i: out.get(i) for i in range(total) if i not in answered}
    for i, (_, payload) in answered.items():
        assert float(payload.decode().strip()) == pytest.approx(expected[i]), (i, payload)
    state = json.loads(docker("inspect", c.name).stdout)[0]["State"]
    assert state["ExitCode"] == 0, c.logs()
    assert exited_after < 30
