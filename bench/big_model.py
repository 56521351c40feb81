"""`make bench` scenario (issue 14, item 3): a model of about 1 GB, loaded once and shared.

An ExtraTreesRegressor grown to full depth on 400,000 rows (about 1 GB pickled, uncompressed)
is served on the host as the image serves it (the model loaded in the master, then forked),
with 1, 2 and 4 workers. For each: the time to healthy, and the proportional set size (PSS)
summed over the master and its workers, after start and after 10,000 one-row requests,
against the model's size. PSS splits each shared page between the processes that map it,
so a model that stays shared keeps the sum near one copy whatever the worker count.

Call it from bench/run.py's main (full runs only: training takes about a minute)::

    import big_model
    big_model.run_big_model(report, work)

or alone: ``.venv/bin/python bench/big_model.py`` prints the rows as JSON.
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np

REQUESTS = 10_000
WORKER_COUNTS = (1, 2, 4)
#: SageMaker's start-up limit: healthy within 4 minutes.
STARTUP_LIMIT_S = 240


def train_big(path: Path, rows: int = 400_000, trees: int = 20) -> tuple[int, np.ndarray]:
    """Fit and save the big forest; return its file size and one request row."""
    from sklearn.ensemble import ExtraTreesRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=rows)
    model = ExtraTreesRegressor(n_estimators=trees, n_jobs=2, random_state=0).fit(X, y)
    joblib.dump(model, path)
    return path.stat().st_size, X[0]


def _hammer(url: str, body: bytes, count: int, threads: int = 4) -> int:
    """Send ``count`` requests over keep-alive connections; return how many got 200."""
    host, port = url.removeprefix("http://").split(":")
    ok = [0] * threads

    def run(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for _ in range(count // threads):
            conn.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
            response = conn.getresponse()
            response.read()
            ok[i] += response.status == 200
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return sum(ok)


def measure(model_dir: Path, size: int, row: np.ndarray) -> list[dict[str, Any]]:
    """One row per worker count: healthy time, PSS after start and after the requests."""
    from run import children, host_server, pss_kib, serve_cmd, server_env
    from smkit.image.docker import free_port

    body = ",".join(repr(float(v)) for v in row).encode()
    rows = []
    for workers in WORKER_COUNTS:
        port = free_port()
        env = {**server_env(model_dir, port),
               "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
        with host_server(serve_cmd(), env, port, workers=workers, boot_s=60) as server:
            pids = [server.proc.pid, *children(server.proc.pid)]
            before = pss_kib(pids)
            t0 = time.monotonic()
            answered = _hammer(server.url, body, REQUESTS)
            seconds = time.monotonic() - t0
            after = pss_kib([server.proc.pid, *children(server.proc.pid)])
        rows.append({
            "scenario": "big model (ExtraTrees)", "workers": workers,
            "model_mib": round(size / 2**20, 1), "healthy_s": round(server.cold_start_s, 2),
            "pss_start_mib": round(before / 1024, 1), "pss_after_mib": round(after / 1024, 1),
            "pss_over_model": round(after * 1024 / size, 2),
            "requests": REQUESTS, "ok": answered, "req_per_s": round(answered / seconds, 1),
        })
    return rows


def run_big_model(report: Any, work: Path) -> None:
    """Train, serve and measure; add the rows, facts and targets to bench/run.py's report."""
    model_dir = work / "big-model"
    model_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    size, row = train_big(model_dir / "model.joblib")
    report.facts["big_model_train_s"] = round(time.monotonic() - t0, 1)
    rows = measure(model_dir, size, row)
    report.facts["big_model"] = rows
    for r in rows:
        report.target(f"big model, {r['workers']} workers: PSS / one copy", r["pss_over_model"],
                      1.5, False, "x", limit="pages the workers write to (gc.freeze keeps the "
                      "collector off them); the model's arrays are read-only after load")
    slowest = max(r["healthy_s"] for r in rows)
    report.target("big model: healthy within SageMaker's 4 minutes", slowest, STARTUP_LIMIT_S,
                  False, "s", limit="unpickling the model (joblib.load) in the master")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory(prefix="smkit-big-") as tmp:
        size, row = train_big(Path(tmp) / "model.joblib")
        print(json.dumps(measure(Path(tmp), size, row), indent=1))
