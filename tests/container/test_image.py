"""The built image under the real Docker engine: start, /ping, invoke, signals, settings.

Each test starts its own container from the image built once per run and removes it.
Contract lines checked are from ../shared/docs/sagemaker-contract.md.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import orjson
import pytest
import requests
from smkit_testkit import docker, free_port, save_model, wait_for_ping

pytestmark = pytest.mark.container

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
CSV = "\n".join(",".join(map(str, r)) for r in ROWS)

SLOW_HOOKS = """
import time

def predict_fn(data, model):
    # A first feature of 99 marks a request that should take a while.
    seconds = 3.0 if float(data[0][0]) == 99.0 else 0.0
    seconds = 30.0 if float(data[0][0]) == 999.0 else seconds
    time.sleep(seconds)
    return model.predict(data)
"""


@pytest.fixture(scope="module")
def slow_model_dir(tmp_path_factory: pytest.TempPathFactory, iris) -> Path:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    d = save_model(DecisionTreeClassifier(random_state=0).fit(X, y),
                   tmp_path_factory.mktemp("slow"))
    (d / "code").mkdir()
    (d / "code" / "inference.py").write_text(SLOW_HOOKS)
    return d


def test_image_declares_bind_to_port_and_an_exec_form_entrypoint(image: str) -> None:
    # contract: "Use an exec-form ENTRYPOINT" and the accept-bind-to-port label.
    info = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert info["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert isinstance(info["Entrypoint"], list)
    assert info["Entrypoint"][0].startswith("/")


def test_serve_answers_ping_and_invocations_with_predictions(
    container_factory, iris_model_dir: Path
) -> None:
    c = container_factory(iris_model_dir)
    expected = joblib.load(iris_model_dir / "model.joblib").predict(np.array(ROWS)).tolist()
    r = c.post(CSV, "text/csv")
    assert r.status_code == 200
    assert [int(v) for v in r.text.split("\n")] == expected
    r = c.post(orjson.dumps({"instances": ROWS}), "application/json")
    assert r.json() == {"predictions": expected}
    # contract: each ping times out after 2 s.
    t0 = time.monotonic()
    assert requests.get(f"{c.url}/ping", timeout=2).status_code == 200
    assert time.monotonic() - t0 < 2


def test_logs_are_json_lines_and_the_model_is_loaded_once_before_fork(
    container_factory, iris_model_dir: Path
) -> None:
    c = container_factory(iris_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    for _ in range(4):
        c.post(CSV, "text/csv")
    time.sleep(0.3)
    lines = [ln for ln in c.logs().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line parses as JSON
    assert sum(1 for r in records if r["msg"] == "model loaded") == 1
    assert sum(1 for r in records if r["msg"] == "request") == 4


def test_bind_to_port_moves_the_listener(image: str, iris_model_dir: Path) -> None:
    name = f"smkit-test-port-{free_port()}"
    port = free_port()
    try:
        docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:9099",
               "-e", "SAGEMAKER_BIND_TO_PORT=9099",
               "-v", f"{iris_model_dir}:/opt/ml/model:ro", image, "serve")
        status, _ = wait_for_ping(f"http://127.0.0.1:{port}", 60)
        assert status == 200
    finally:
        docker("rm", "-f", name, check=False)


def test_workers_follow_the_environment(container_factory, iris_model_dir: Path) -> None:
    c = container_factory(iris_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    params = requests.get(f"{c.url}/execution-parameters", timeout=5).json()
    assert params["MaxConcurrentTransforms"] == 3
    assert params["BatchStrategy"] == "MULTI_RECORD"
    deadline = time.monotonic() + 20
    count = 0
    while time.monotonic() < deadline:  # workers boot one after another after /ping is up
        procs = docker("top", c.name, "-o", "pid,args").stdout.splitlines()[1:]
        count = sum("smkit_serve" in p for p in procs)
        if count == 4:
            break
        time.sleep(0.2)
    assert count == 4  # the master and three workers


def test_batch_variables_shape_execution_parameters_and_the_body_limit(
    container_factory, iris_model_dir: Path
) -> None:
    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
           "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
           "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "4"}
    c = container_factory(iris_model_dir, env=env)
    params = requests.get(f"{c.url}/execution-parameters", timeout=5).json()
    assert params == {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD",
                      "MaxPayloadInMB": 20}
    rows = 10 * 1024 * 1024 // 16
    r = c.post(b"5.1,3.5,1.4,0.2\n" * rows, "text/csv")
    assert r.status_code == 200
    assert r.content.count(b"\n") == rows - 1  # one record per row, no trailing newline
    r = c.post(b"5.1,3.5,1.4,0.2\n" * (21 * 1024 * 1024 // 16), "text/csv")
    assert r.status_code == 413
    assert "20 MB" in r.json()["error"]


def test_real_time_bodies_over_6_mb_get_413_and_the_server_lives_on(
    container_factory, iris_model_dir: Path
) -> None:
    c = container_factory(iris_model_dir)
    r = c.post(b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16), "text/csv")
    assert r.status_code == 413
    assert c.post(CSV, "text/csv").status_code == 200


def test_bad_requests_never_take_a_worker_down(container_factory, iris_model_dir: Path) -> None:
    c = container_factory(iris_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    time.sleep(1.0)  # let the second worker boot
    before = docker("top", c.name, "-o", "pid").stdout.split()[1:]
    bad = [(b"\x00\xff\xfe", "text/csv"), (b"[[1,2", "application/json"),
           (b"\x93NUMPY\x01\x00", "application/x-npy"), (b"x", "text/plain"),
           (b"1,2,3,4\n" * 10 + b"1,2", "text/csv"), (b"[" * 5000, "application/json")]
    for body, ctype in bad * 5:
        r = c.post(body, ctype)
        assert 400 <= r.status_code < 500, (ctype, r.status_code, r.text)
        assert "Traceback" not in r.text
    assert docker("top", c.name, "-o", "pid").stdout.split()[1:] == before
    assert c.post(CSV, "text/csv").status_code == 200


def test_a_missing_model_is_503_with_the_fix_in_the_log(container_factory, tmp_path: Path) -> None:
    c = container_factory(tmp_path, wait_status=503)
    r = requests.get(f"{c.url}/ping", timeout=2)
    assert r.status_code == 503
    assert "model.joblib" in r.json()["error"]
    assert "joblib.dump" in c.logs()


def test_a_corrupt_model_is_503_and_logged_loudly(container_factory, tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"\x80\x04garbage")
    c = container_factory(tmp_path, wait_status=503)
    assert "not a loadable joblib file" in requests.get(f"{c.url}/ping", timeout=2).json()["error"]
    assert '"level":"error"' in c.logs()


def test_sigterm_lets_the_in_flight_request_finish_then_exits_0(
    container_factory, slow_model_dir: Path
) -> None:
    # contract: SIGTERM, then SIGKILL 30 s later; requests in flight should finish.
    c = container_factory(slow_model_dir)
    result: dict[str, object] = {}

    def slow_call() -> None:
        r = c.post("99,3,4,1", "text/csv")
        result["status"], result["body"] = r.status_code, r.text

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(1.0)  # the request is now inside predict_fn (it sleeps 3 s)
    t0 = time.monotonic()
    docker("kill", "--signal", "TERM", c.name)
    docker("wait", c.name, timeout=40)
    elapsed = time.monotonic() - t0
    t.join(timeout=10)
    assert result.get("status") == 200, result
    state = json.loads(docker("inspect", c.name).stdout)[0]["State"]
    assert state["ExitCode"] == 0
    assert elapsed < 30


@pytest.mark.parametrize("worker_class", ["gthread", "sync"])
def test_request_timeout_comes_from_the_environment(container_factory, slow_model_dir,
                                                    worker_class) -> None:
    # sync: gunicorn's master aborts the worker; gthread (the default): the watchdog answers.
    c = container_factory(slow_model_dir, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "2",
                                               "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
                                               "SMKIT_WORKER_CLASS": worker_class})
    t0 = time.monotonic()
    r = c.post("999,3,4,1", "text/csv")  # predict would sleep 30 s
    assert time.monotonic() - t0 < 20
    assert r.status_code == 504
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT" in r.json()["error"]
    status, _ = wait_for_ping(c.url, 20)
    assert status == 200
    assert c.post(CSV, "text/csv").status_code == 200


def test_serve_is_the_only_command(image: str) -> None:
    out = docker("run", "--rm", image, "train", check=False)
    assert out.returncode == 2
    assert "serves models" in out.stderr


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_ping_answers_within_two_seconds_while_every_worker_predicts(
        container_factory, slow_model_dir, worker_class) -> None:
    # contract: "Each ping times out after 2 s" - also while the only worker is busy.
    from concurrent.futures import ThreadPoolExecutor

    c = container_factory(slow_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                                               "SMKIT_WORKER_CLASS": worker_class})
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(c.post, "99,3,4,1", "text/csv")  # predict takes 3 s
        time.sleep(0.8)  # the worker is busy now
        t0 = time.monotonic()
        ping = requests.get(f"{c.url}/ping", timeout=5)
        ping_seconds = time.monotonic() - t0
        # A prediction arriving meanwhile waits its turn and gets its own answer.
        queued = pool.submit(c.post, CSV, "text/csv")
        model = joblib.load(slow_model_dir / "model.joblib")
        assert slow.result(timeout=30).text == str(model.predict([[99, 3, 4, 1]])[0])
        assert queued.result(timeout=30).status_code == 200
        assert queued.result().text.splitlines() == [str(v) for v in model.predict(ROWS)]
    assert ping.status_code == 200
    assert ping_seconds < 2.0
