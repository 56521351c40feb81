"""Issue 23 item 1: every library at its thread defaults, and with ``n_jobs=-1``, is served
by every worker, in real time and in a batch transform.

LightGBM at its default ``n_jobs`` predicts on an OpenMP pool of all cores, and loading it
already runs that pool. A pool does not survive fork: workers forked from a gunicorn master
that ran one block in it forever (``/ping`` answered 200, every ``/invocations`` hung).
XGBoost, CatBoost and scikit-learn's HistGradientBoosting run OpenMP pools too, and a forest
with ``n_jobs=-1`` predicts over joblib's threads. The models are trained and saved in the
seller's own venv (``venvkit``); each answer must equal what the model's own predict and
predict_proba gave there.

The cases are chosen so each reaches something the others do not, one container per
(model, workers) with every check inside it:
- each library at its defaults with 1, 2 and 4 workers, in real time (the fork and the
  workers' share of the cores);
- each ``n_jobs=-1`` variant that takes another code path, with 2 workers (CatBoost has
  none: an explicit ``thread_count=-1`` is its default, see ``train/year_old.py``);
- one batch transform per library, run by smkit's own runner with 4 workers and 4
  concurrent requests (SAGEMAKER_BATCH, one mini-batch per record or a bulk body).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from productkit import PROBABILITIES, Built, assert_same, invoke
from smkit.image import docker
from smkit.project.transform_job import TransformConfig
from smkit.transform.image import run_transform_with_image
from venvkit import Trained, TrainedModel

pytestmark = pytest.mark.container

#: Each library's model at its thread defaults: (environment, model). scikit-learn's is the
#: HistGradientBoosting pipeline, the estimator that predicts on OpenMP.
DEFAULTS = {
    "scikit-learn": ("year_old", "hist_gradient_boosting"),
    "xgboost": ("newest", "xgboost"),
    "lightgbm": ("newest", "lightgbm_classifier"),
    "catboost": ("year_old", "catboost"),
}
#: The ``n_jobs=-1`` variants that reach another code path than the defaults.
ALL_CORES = {
    "scikit-learn": ("newest", "forest_all_cores"),
    "xgboost": ("newest", "xgboost_all_cores"),
    "lightgbm": ("newest", "lightgbm_all_cores"),
}
#: One batch transform per library: (environment, model, BatchStrategy). SingleRecord sends
#: one small request per row over all workers; MultiRecord one bulk body.
BATCH = {
    "scikit-learn": ("newest", "forest_all_cores", "SingleRecord"),
    "xgboost": ("newest", "xgboost", "MultiRecord"),
    "lightgbm": ("newest", "lightgbm_classifier", "SingleRecord"),
    "catboost": ("year_old", "catboost_strings", "SingleRecord"),
}
REALTIME = [
    *(pytest.param(*DEFAULTS[lib], workers, id=f"{lib}-defaults-{workers}w")
      for lib in DEFAULTS for workers in (1, 2, 4)),
    *(pytest.param(*ALL_CORES[lib], 2, id=f"{lib}-n_jobs=-1-2w") for lib in ALL_CORES),
]
#: Workers and requests in flight in the batch transforms.
BATCH_WORKERS = 4
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


def _booted_workers(server: docker.Server) -> int:
    return server.logs().count("Booting worker")


@pytest.mark.parametrize(("env_name", "model_name", "workers"), REALTIME)
def test_every_worker_answers_what_the_sellers_predict_did(
    env_name: str, model_name: str, workers: int, trained: Callable[[str], Trained],
    product_image: Callable[[str], Built],
) -> None:
    """Concurrent requests (twice as many as workers, so all are busy at once) get the
    seller's own labels and probabilities, from a server with ``workers`` workers."""
    model = trained(env_name).models[model_name]
    expected = model.expected
    body = model.input_csv.read_bytes()
    with docker.serve(product_image(env_name).image, model.model_dir, network="none",
                      startup_timeout=90, env=_serve_env(workers)) as server:
        with ThreadPoolExecutor(2 * workers) as pool:
            labels = list(pool.map(lambda _: invoke(server, body), range(2 * workers)))
            probabilities = list(pool.map(lambda _: invoke(server, body, PROBABILITIES),
                                          range(2 * workers)))
        assert _booted_workers(server) == workers, server.logs()[-3000:]
    for got in labels:
        assert_same(got, expected["predictions"], expected["predictions_dtype"],
                    f"{model_name} predictions, {workers} workers")
    for got in probabilities:
        assert_same(got, expected["probabilities"], expected["probabilities_dtype"],
                    f"{model_name} probabilities, {workers} workers")


def _records(out: Path, expected: dict[str, Any]) -> list[Any]:
    """The transform's output records (AssembleWith=Line, CSV, one per input row) in the
    dtype and shape of the seller's own predictions."""
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert len(rows) == expected["rows"], f"{len(rows)} output records"
    values = np.asarray(rows, dtype=str).astype(expected["predictions_dtype"])
    return values.reshape(np.shape(expected["predictions"])).tolist()


@pytest.mark.parametrize(("env_name", "model_name", "strategy"),
                         [pytest.param(*case, id=lib) for lib, case in BATCH.items()])
def test_a_batch_transform_answers_what_the_sellers_predict_did(
    env_name: str, model_name: str, strategy: str, tmp_path: Path,
    trained: Callable[[str], Trained], product_image: Callable[[str], Built],
) -> None:
    """smkit's transform runner against the product image as batch transform starts it
    (SAGEMAKER_BATCH, the job's strategy and concurrency): one output record per input row,
    each the seller's own prediction."""
    model: TrainedModel = trained(env_name).models[model_name]
    expected = model.expected
    cfg = TransformConfig(
        inputs=[model.input_csv], output_dir=tmp_path / "out", progress=False,
        batch_strategy=strategy, max_concurrent_transforms=BATCH_WORKERS,
        environment=_serve_env(BATCH_WORKERS),
    )
    report = run_transform_with_image(cfg, product_image(env_name).image, model.model_dir,
                                      startup_timeout=90)
    assert report.ok, report.summary()
    assert report.records == expected["rows"]
    got = _records(tmp_path / "out" / f"{model.input_csv.name}.out", expected)
    assert_same(got, expected["predictions"], expected["predictions_dtype"],
                f"{model_name} batch transform ({strategy}, {BATCH_WORKERS} workers)")


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
