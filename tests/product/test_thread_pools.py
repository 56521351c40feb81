"""Issue 23 item 1: a model at its library's thread defaults is served by every worker.

LightGBM at its default ``n_jobs`` predicts on an OpenMP pool of all cores, and loading it
already runs that pool. A pool does not survive fork: workers forked from a gunicorn master
that ran one block in it forever (``/ping`` answered 200, every ``/invocations`` hung). The
models are the newest environment's, trained and saved with joblib.dump in the seller's own
venv; each answer must equal what the model's own predict and predict_proba gave there.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from productkit import PROBABILITIES, Built, assert_same, invoke
from smkit.image import docker
from venvkit import Trained

pytestmark = pytest.mark.container

#: LightGBM's classifier at its defaults, and with n_jobs=-1 (another branch in LightGBM).
LIGHTGBM_MODELS = ("lightgbm_classifier", "lightgbm_all_cores")
#: The request time limit the servers here run with: a hang fails within it, not the test's.
LIMIT_S = 20

#: predict_fn that blocks for good in native code (as a worker in a stuck thread pool does)
#: when the first value is 99: a default pthread mutex locked twice by one thread.
DEADLOCK_HOOKS = """
import ctypes

_libc = ctypes.CDLL(None)
_mutex = ctypes.create_string_buffer(64)  # all zeros: an unlocked default mutex (glibc)


def predict_fn(data, model):
    if float(data[0][0]) == 99.0:
        _libc.pthread_mutex_lock(_mutex)
        _libc.pthread_mutex_lock(_mutex)
    return model.predict(data)
"""


def _serve_env(workers: int, **extra: str) -> dict[str, str]:
    return {"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(LIMIT_S), **extra}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("model_name", LIGHTGBM_MODELS)
def test_lightgbm_at_its_thread_defaults_answers_from_every_worker(
    model_name: str, workers: int, trained: Callable[[str], Trained],
    product_image: Callable[[str], Built],
) -> None:
    model = trained("newest").models[model_name]
    expected = model.expected
    body = model.input_csv.read_bytes()
    with docker.serve(product_image("newest").image, model.model_dir, network="none",
                      startup_timeout=90, env=_serve_env(workers)) as server:
        # Concurrent requests, so every worker answers some.
        with ThreadPoolExecutor(2 * workers) as pool:
            labels = list(pool.map(lambda _: invoke(server, body), range(2 * workers)))
            probabilities = list(pool.map(lambda _: invoke(server, body, PROBABILITIES),
                                          range(2 * workers)))
        for got in labels:
            assert_same(got, expected["predictions"], expected["predictions_dtype"],
                        f"{model_name} predictions, {workers} workers")
        for got in probabilities:
            assert_same(got, expected["probabilities"], expected["probabilities_dtype"],
                        f"{model_name} probabilities, {workers} workers")


def test_the_sellers_own_omp_num_threads_does_not_hang_the_workers(
    trained: Callable[[str], Trained], product_image: Callable[[str], Built],
) -> None:
    """A seller's OMP_NUM_THREADS would size the pool LightGBM runs while it loads in the
    master; the master loads at one thread all the same."""
    model = trained("newest").models["lightgbm_classifier"]
    expected = model.expected
    with docker.serve(product_image("newest").image, model.model_dir, network="none",
                      startup_timeout=90, env=_serve_env(2, OMP_NUM_THREADS="2")) as server:
        assert_same(invoke(server, model.input_csv.read_bytes()), expected["predictions"],
                    expected["predictions_dtype"], "predictions with OMP_NUM_THREADS=2")


def test_a_request_stuck_in_native_code_answers_504_naming_the_library(
    tmp_path: Path, trained: Callable[[str], Trained], product_image: Callable[[str], Built],
) -> None:
    """gunicorn's abort signal is never handled while a worker is stuck in native code;
    the request still answers 504 within its limit, the first line naming the model's
    library and the likely cause, and the replaced worker answers the next request."""
    model = trained("newest").models["lightgbm_classifier"]
    model_dir = tmp_path / "model"
    shutil.copytree(model.model_dir, model_dir)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(DEADLOCK_HOOKS)
    row = model.input_csv.read_bytes().split(b"\n")[0]
    stuck = b"99" + row[row.index(b","):]
    headers = {"Content-Type": "text/csv", "Accept": "application/json"}
    limit = 3
    with docker.serve(product_image("newest").image, model_dir, network="none",
                      startup_timeout=90,
                      env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                           "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(limit)}) as server:
        started = time.monotonic()
        status, _, data = server.request_inside("POST", "/invocations", stuck, headers,
                                                timeout=limit + 20)
        took = time.monotonic() - started
        assert status == 504, f"{status} {data[:500]!r}\n{server.logs()[-3000:]}"
        first_line = json.loads(data)["error"].splitlines()[0]
        assert first_line.startswith(f"the lightgbm model did not answer within the {limit} s"
                                     " limit"), first_line
        assert "native thread pool" in first_line
        assert took < limit + 3, f"the 504 took {took:.1f} s"
        assert_same(invoke(server, row), model.expected["predictions"][:1],
                    model.expected["predictions_dtype"], "the next request")
