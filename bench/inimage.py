"""The bench's in-process predict timing, run INSIDE an image (``docker exec ... python``).

A product image has the model's own libraries (XGBoost, LightGBM) that the host venv does not;
its "model alone" figures must come from the same image the server runs. This file uses only
what every smkit image has (numpy, joblib, threadpoolctl, the server) and mirrors
``predict_seconds`` and ``concurrent_predict_rps`` in ``bench/run.py``: native thread pools
capped at one thread, as in each server worker (a model that passes its own thread count,
LightGBM at its defaults, keeps it, as in the server), and one forked process per core for the
measured-alone rate.

Usage: python inimage.py predict MODEL X.npy SECONDS   -> median seconds of one predict call
       python inimage.py alone MODEL X.npy SECONDS PROCS -> calls/s of PROCS processes at once
Prints one JSON number.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any

from smkit_serve.server import cap_native_pools

# As the server's master does: no native thread pool may run in this process before it
# forks the measured-alone processes (LightGBM at its default n_jobs would hang in them).
cap_native_pools()

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


def median_seconds(model: Any, X: np.ndarray, budget_s: float) -> float:
    """Median seconds of ``model.predict(X)`` over ``budget_s`` (at least 5 calls)."""
    with threadpool_limits(1):
        model.predict(X)
        times: list[float] = []
        end = time.monotonic() + budget_s
        while time.monotonic() < end or len(times) < 5:
            t0 = time.perf_counter()
            model.predict(X)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _loop(model: Any, X: np.ndarray, seconds: float, out: Any) -> None:
    with threadpool_limits(1):
        model.predict(X)
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model.predict(X)
            calls += 1
    out.put(calls / (time.perf_counter() - t0))


def alone_rps(model: Any, X: np.ndarray, seconds: float, procs: int) -> float:
    """Calls/s of ``procs`` forked processes predicting at once, one thread each."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_loop, args=(model, X, seconds, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    rates = [out.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    return float(sum(rates))


def main(argv: list[str]) -> None:
    """Run one measurement and print it as JSON."""
    what, model_path, x_path, seconds = argv[0], argv[1], argv[2], float(argv[3])
    # Load with pools capped, as the server's master does before it forks its workers.
    with threadpool_limits(1):
        model = joblib.load(model_path)
    X = np.load(x_path)
    if what == "predict":
        print(json.dumps(median_seconds(model, X, seconds)))
    else:
        print(json.dumps(alone_rps(model, X, seconds, int(argv[4]))))


if __name__ == "__main__":
    main(sys.argv[1:])
