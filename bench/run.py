"""`make bench`: measure smkit's server against the model alone and an HTTP floor, in one run.

Prints a table (requests/s, rows/s, p50/p99, errors per scenario and content type; in-process
predict time; ratios to the model-alone limit and to the floor; cold start; PSS memory; image
size; a batch transform over a large CSV through smkit's runner) and writes it to
``bench/results/<date>.md`` with the raw figures in a ``.json`` beside it.

All load stays on 127.0.0.1 and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from smkit.image.docker import CONTAINER_PORT, free_port

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")
WORKERS = 2
FLOOR_APP = '''
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "1")])
    return [b"0"]
'''


# ----------------------------------------------------------------------------- helpers


def ping(url: str) -> int | None:
    """Status of GET /ping, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:  # noqa: S310
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return None


def wait_ready(url: str, deadline_s: float = 60) -> float:
    """Seconds until /ping answered 200; raises after ``deadline_s``."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if ping(url) == 200:
            return time.monotonic() - start
        time.sleep(0.01)
    raise TimeoutError(f"{url}/ping not healthy within {deadline_s}s")


def pss_kib(pids: list[int]) -> int:
    """Total proportional set size of ``pids`` (shared pages split between them)."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(m.group(1)) if m else 0
    return total


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


@dataclass
class Server:
    """A server process on the host."""

    url: str
    proc: subprocess.Popen[bytes]
    cold_start_s: float


@contextmanager
def host_server(cmd: list[str], env: dict[str, str], port: int, cwd: Path | None = None,
                workers: int = WORKERS, boot_s: float = 20) -> Iterator[Server]:
    """Start ``cmd`` (a server on ``port``), wait for it and its ``workers``, stop it with
    SIGTERM afterwards."""
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cold = wait_ready(url) + 0.0
        cold = time.monotonic() - t0
        # Let every worker boot before measuring.
        deadline = time.monotonic() + boot_s
        while len(children(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        yield Server(url, proc, cold)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Load:
    """What wrk measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def wrk(url: str, body_file: Path, content_type: str, connections: int, seconds: float,
        accept: str | None = None, netns_pid: int | None = None) -> Load:
    """Run wrk against POST ``url`` with the body in ``body_file``; with ``netns_pid``, from
    inside that process's network namespace (a container's, where ``url`` is loopback)."""
    script = body_file.with_suffix(".lua")
    accept_line = f'wrk.headers["Accept"] = "{accept}"\n' if accept else ""
    script.write_text(
        'wrk.method = "POST"\n'
        f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n{accept_line}'
    )
    enter = ["nsenter", f"--net=/proc/{netns_pid}/ns/net"] if netns_pid else []
    out = subprocess.run(
        [*enter, "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0
    )
    return Load(rps, _latency(out, "50%"), _latency(out, "99%"), errors, requests)


def _latency(out: str, pct: str) -> float:
    m = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out, re.M)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def median_seconds(call: Callable[[], object], budget_s: float) -> float:
    """Median seconds of ``call()`` over ``budget_s`` (at least 5 calls, after a warm-up)."""
    call()
    times: list[float] = []
    end = time.monotonic() + budget_s
    while time.monotonic() < end or len(times) < 5:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def predict_seconds(model: Any, X: np.ndarray, budget_s: float) -> float:
    """Median seconds of one in-process ``model.predict(X)`` call on one core.

    Native thread pools are capped at one thread, as in each server worker, so that
    ``cores / predict time`` is what the model alone allows on this machine.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return median_seconds(lambda: model.predict(X), budget_s)


def _predict_loop(model: Any, X: np.ndarray, seconds: float, out: Any) -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        model.predict(X)
        calls, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model.predict(X)
            calls += 1
    out.put(calls / (time.perf_counter() - t0))


def concurrent_predict_rps(model: Any, X: np.ndarray, procs: int, seconds: float) -> float:
    """Calls/s of ``procs`` processes predicting at once, one thread each: what the model
    alone really gets from the cores (two busy cores rarely give twice one core)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_predict_loop, args=(model, X, seconds, out))
               for _ in range(procs)]
    for w in workers:
        w.start()
    rates = [out.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    return float(sum(rates))


# ----------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """One model and payload."""

    name: str
    model_dir: Path
    X: np.ndarray
    rows: int
    connections: int
    #: "floor" (iris: compare to the HTTP floor) or "model" (RF: compare to model-alone).
    target: str
    #: A product image: the server runs in it (a container) and the model alone is timed
    #: inside it too, on the image's own libraries. None: both on the host's Python.
    image: str | None = None


def write_payloads(sc: Scenario, work: Path) -> dict[str, Path]:
    """The scenario's request body as CSV and as JSON."""
    X = sc.X[: sc.rows]
    slug = re.sub(r"[^a-z0-9]+", "-", sc.name.lower()).strip("-")
    csv_path = work / f"{slug}.csv"
    csv_path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in X))
    json_path = work / f"{slug}.json"
    json_path.write_text(json.dumps({"instances": X.tolist()}))
    return {"text/csv": csv_path, "application/json": json_path}


def build_models(work: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """Train the iris tree and the 100-tree forest on 20 features into ``work``."""
    X, y = load_iris(return_X_y=True)
    iris_dir = work / "iris"
    iris_dir.mkdir()
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), iris_dir / "model.joblib")
    Xr, yr = make_classification(n_samples=5000, n_features=20, random_state=0)
    rf_dir = work / "rf"
    rf_dir.mkdir()
    joblib.dump(RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1).fit(Xr, yr),
                rf_dir / "model.joblib")
    rng = np.random.default_rng(0)
    iris_rows = X[rng.integers(0, len(X), 1000)]
    rf_rows = Xr[rng.integers(0, len(Xr), 1000)]
    return iris_dir, rf_dir, iris_rows, rf_rows


def serve_cmd() -> list[str]:
    """The server as the image runs it, but on the host's Python."""
    return [sys.executable, "-m", "smkit_serve", "serve"]


def server_env(model_dir: Path, port: int) -> dict[str, str]:
    """Environment for a 2-worker server on ``port``."""
    return {"SMKIT_MODEL_DIR": str(model_dir), "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS), "SMKIT_ACCESS_LOG": "false"}


@dataclass
class Report:
    """Everything measured in one run."""

    started: str
    quick: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)

    def target(self, name: str, value: float, goal: float, higher_is_better: bool, unit: str,
               limit: str = "") -> None:
        """Record a target, whether this run met it, and what limits it (shown if missed)."""
        ok = value >= goal if higher_is_better else value <= goal
        self.targets.append({"target": name, "value": value, "goal": goal, "unit": unit,
                             "met": ok, "higher_is_better": higher_is_better,
                             "limit": limit})


def run_throughput(report: Report, scenarios: list[Scenario], work: Path, seconds: float,
                   predict_budget: float, rounds: int) -> None:
    """Each scenario x content type against the server, and the HTTP floor, interleaved.

    This VM's speed drifts by up to a half within minutes, so each scenario runs in
    ``rounds`` short rounds (predict timed in-process, the model alone on every core, then wrk
    against the server in CSV and JSON and against the floor) and each ratio is the median
    of the rounds' ratios, every one taken from figures measured seconds apart.
    """
    floor_dir = work / "floor"
    floor_dir.mkdir(exist_ok=True)
    (floor_dir / "floorapp.py").write_text(FLOOR_APP)
    cpus = len(os.sched_getaffinity(0))
    med = statistics.median
    for sc in scenarios:
        payloads = write_payloads(sc, work)
        X = sc.X[: sc.rows]
        port, floor_port = free_port(), free_port()
        floor_cmd = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(WORKERS), "-b",
                     f"127.0.0.1:{floor_port}", "--log-level", "warning", "floorapp:app"]
        preds: list[float] = []
        alone: list[float] = []
        floors: list[float] = []
        loads: dict[str, list[Load]] = {ct: [] for ct in payloads}
        with ExitStack() as stack:
            time_predict: Callable[[], float]
            time_alone: Callable[[], float]
            netns: int | None = None
            if sc.image is None:
                model = joblib.load(sc.model_dir / "model.joblib")
                srv_url = stack.enter_context(
                    host_server(serve_cmd(), server_env(sc.model_dir, port), port)).url
                time_predict = partial(predict_seconds, model, X, predict_budget / rounds)
                time_alone = partial(concurrent_predict_rps, model, X, cpus,
                                     predict_budget / rounds)
            else:
                import products

                probe = stack.enter_context(products.ImageProbe(sc.image, sc.model_dir, work))
                srv_url, netns = stack.enter_context(
                    products.container_server(sc.image, sc.model_dir, WORKERS))
                time_predict = partial(probe.predict_seconds, X, predict_budget / rounds)
                time_alone = partial(probe.alone_rps, X, cpus, predict_budget / rounds)
            floor = stack.enter_context(host_server(floor_cmd, {}, floor_port, cwd=floor_dir))
            order = ["predict", "alone", *payloads, "floor"]
            for i in range(rounds):
                # A different step goes first each round: what follows a burst of CPU here
                # runs slower, and no figure should always be the one that follows it.
                shift = i * len(order) // rounds
                for step in order[shift:] + order[:shift]:
                    if step == "predict":
                        preds.append(time_predict())
                    elif step == "alone":
                        alone.append(time_alone())
                    elif step == "floor":
                        floors.append(wrk(f"{floor.url}/", payloads["text/csv"], "text/csv",
                                          sc.connections, seconds / rounds).rps)
                    else:
                        loads[step].append(wrk(f"{srv_url}/invocations", payloads[step], step,
                                               sc.connections, seconds / rounds,
                                               netns_pid=netns))
        for ct, runs in loads.items():
            rps = [run.rps for run in runs]
            report.rows.append({
                "scenario": sc.name, "content_type": ct, "rounds": rounds,
                "where": f"image {sc.image}" if sc.image else "host", "rps": med(rps),
                "rows_per_s": med(rps) * sc.rows, "p50_ms": med(r.p50_ms for r in runs),
                "p99_ms": max(r.p99_ms for r in runs),
                "errors": sum(r.errors for r in runs), "requests": sum(r.requests for r in runs),
                "predict_us": med(preds) * 1e6, "predict_us_min": min(preds) * 1e6,
                "predict_us_max": max(preds) * 1e6, "model_alone_rps": cpus / med(preds),
                "ratio_model": med(r * t / cpus for r, t in zip(rps, preds, strict=True)),
                "measured_alone_rps": med(alone),
                "ratio_measured_alone": med(r / a for r, a in zip(rps, alone, strict=True)),
                "floor_rps": med(floors),
                "ratio_floor": med(r / f for r, f in zip(rps, floors, strict=True)),
            })
        csv_row = next(r for r in report.rows
                       if r["scenario"] == sc.name and r["content_type"] == "text/csv")
        # Per worker and request: what the server spends, what the floor spends, and what
        # predict alone costs; the difference is parsing, validation and HTTP.
        server_us = cpus / csv_row["rps"] * 1e6
        floor_us = cpus / csv_row["floor_rps"] * 1e6
        spent = (f"per request and core the server spends {server_us:,.0f} µs, predict alone "
                 f"{csv_row['predict_us']:,.0f} µs, the HTTP floor {floor_us:,.0f} µs")
        if sc.target == "floor":
            goal = 0.7 if sc.rows == 1 else 0.3
            report.target(f"{sc.name} CSV: share of the HTTP floor", csv_row["ratio_floor"],
                          goal, True, "ratio",
                          f"{spent}: the rest is scikit-learn's per-call input validation "
                          "and the CSV parse, which the floor does not do")
        elif sc.rows == 1:
            report.target(f"{sc.name} CSV: share of model-alone throughput",
                          csv_row["ratio_model"], 0.85, True, "ratio",
                          f"{spent}: HTTP and parsing on top of predict")
        else:
            two = csv_row["measured_alone_rps"] / csv_row["model_alone_rps"]
            report.target(f"{sc.name} CSV: share of the model measured on all cores",
                          csv_row["ratio_measured_alone"], 0.9, True, "ratio",
                          f"{spent}, so parsing {sc.rows:,} rows of CSV and HTTP add "
                          f"{max(0.0, server_us - csv_row['predict_us']):,.0f} µs; all cores "
                          f"predicting at once give {two:.2f} of cores x one core")


#: What any Python server must do before its first healthy /ping: start the interpreter,
#: import scikit-learn (joblib.load does, to unpickle the estimator; pandas hidden, as the
#: server does) and predict once.
LOAD_FLOOR = ("import sys; from smkit_serve.model import import_sklearn; import_sklearn(); "
              "import joblib, numpy as np; m = joblib.load(sys.argv[1]); "
              "m.predict(np.zeros((1, m.n_features_in_)))")


def load_floor_seconds(model_dir: Path, runs: int = 3) -> float:
    """Median seconds for a fresh interpreter to load the model and predict one row."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", LOAD_FLOOR, str(model_dir / "model.joblib")],
                       check=True, capture_output=True)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def run_cold_start_and_memory(report: Report, iris_dir: Path) -> None:
    """Cold start outside Docker and in the container; PSS of a 2-worker server."""
    report.facts["cold_start_host_load_floor_s"] = load_floor_seconds(iris_dir)
    port = free_port()
    with host_server(serve_cmd(), server_env(iris_dir, port), port) as srv:
        report.facts["cold_start_host_s"] = srv.cold_start_s
        report.facts["cold_start_host_over_floor_s"] = (
            srv.cold_start_s - report.facts["cold_start_host_load_floor_s"])
        pids = [srv.proc.pid, *children(srv.proc.pid)]
        report.facts["pss_2_workers_mib"] = pss_kib(pids) / 1024
        report.facts["processes_measured"] = len(pids)
    floor_s = report.facts["cold_start_host_load_floor_s"]
    report.target("cold start to healthy /ping, host: multiple of the import-and-load floor",
                  srv.cold_start_s / floor_s, 1.1, False, "x",
                  f"the floor (a fresh interpreter importing scikit-learn, loading the model, "
                  f"predicting one row) takes {floor_s:.2f} s; the server adds "
                  f"{srv.cold_start_s - floor_s:.2f} s (gunicorn, Flask, the manifest check, "
                  "forking the workers)")
    report.target("PSS of a 2-worker server (iris)", report.facts["pss_2_workers_mib"], 150,
                  False, "MiB")
    if shutil.which("docker") is None:
        return
    name = f"smkit-bench-{os.getpid()}"
    port = free_port()
    t0 = time.monotonic()
    subprocess.run(["docker", "run", "-d", "--name", name, "-p",
                    f"127.0.0.1:{port}:{CONTAINER_PORT}",
                    "-e", f"SAGEMAKER_MODEL_SERVER_WORKERS={WORKERS}",
                    "-v", f"{iris_dir}:/opt/ml/model:ro", IMAGE, "serve"],
                   check=True, capture_output=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        report.facts["cold_start_container_s"] = time.monotonic() - t0
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    report.target("cold start to healthy /ping, container",
                  report.facts["cold_start_container_s"], 3.0, False, "s")
    size = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE],
                          capture_output=True, text=True, check=True).stdout.strip()
    report.facts["image_mb"] = int(size) / 1e6
    report.target("image size", report.facts["image_mb"], 400, False, "MB")


def parse_seconds(body: bytes, budget_s: float, reader: str = "server") -> float:
    """Median seconds to parse ``body`` (headerless numeric CSV) on one core: with the
    server's own decoder (simdjson, with its checks), or with pandas' C reader."""
    if reader == "pandas":
        import io

        import pandas as pd

        return median_seconds(
            lambda: pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64,
                                engine="c").to_numpy(), budget_s)
    import smkit_serve.codecs as codecs

    schema = codecs.Schema()
    if codecs._numeric_csv_fast(body, schema) is None:
        raise RuntimeError("the server's fast CSV path declined the bench's own CSV")
    return median_seconds(lambda: codecs._numeric_csv_fast(body, schema), budget_s)


def write_transform_input(work: Path, rows: np.ndarray, size_mb: int) -> tuple[Path, int, str]:
    """A CSV of about ``size_mb`` MB: the ``rows`` block repeated; (path, rows, block)."""
    src = work / f"transform-{size_mb}mb.csv"
    block = "\n".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "\n"
    blocks = max(1, int(size_mb * 1e6 // len(block)))
    if not src.exists():
        with src.open("w") as f:
            for _ in range(blocks):
                f.write(block)
    return src, blocks * len(rows), block


def transform_rounds(report: Report, label: str, url: str, src: Path, total_rows: int,
                     rows: np.ndarray, block: str, time_predict: Callable[[np.ndarray], float],
                     time_alone: Callable[[np.ndarray], float], rounds: int,
                     budget: float) -> dict[str, float]:
    """Batch transforms of ``src`` through smkit's runner against ``url``, interleaved with
    the model's own predict on the runner's mini-batch (one core, and every core at once)
    and the server's CSV parse of it; medians of the rounds' ratios."""
    from smkit.project.transform_job import TransformConfig
    from smkit.transform.runner import run_transform
    from smkit_contract import limits

    cpus = len(os.sched_getaffinity(0))
    # The mini-batch the runner packs with the default MaxPayloadInMB.
    batch_rows = min(total_rows, int(limits.DEFAULT_BATCH_PAYLOAD_MB * limits.MB
                                     // (len(block) / len(rows))))
    pick = np.arange(batch_rows) % len(rows)
    Xb = rows[pick]
    lines = block.splitlines(keepends=True)
    text = "".join(lines[i] for i in pick.tolist()).encode()
    figures: dict[str, list[float]] = {k: [] for k in (
        "rows_s", "predict_s", "alone_calls_s", "parse_s", "pandas_s")}
    out = src.parent / f"out-{uuid.uuid4().hex[:8]}"
    steps = ["transform", "predict", "alone", "parse"]
    for i in range(rounds):
        shift = i * len(steps) // rounds
        for step in steps[shift:] + steps[:shift]:
            if step == "transform":
                shutil.rmtree(out, ignore_errors=True)
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                t0 = time.monotonic()
                result = run_transform(TransformConfig(
                    inputs=[src], output_dir=out, content_type="text/csv",
                    split_type="Line"), endpoint_url=url)
                elapsed = time.monotonic() - t0
                if i == 0:  # the first step of the first round: nothing else raised the peak
                    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
                    report.facts[f"{label}_runner_peak_rss_growth_mib"] = max(0, growth) / 1024
                if not result.ok:
                    raise RuntimeError(f"the bench's transform failed: {result}")
                figures["rows_s"].append(total_rows / elapsed)
            elif step == "predict":
                figures["predict_s"].append(time_predict(Xb))
            elif step == "alone":
                figures["alone_calls_s"].append(time_alone(Xb))
            else:
                figures["parse_s"].append(parse_seconds(text, budget / 2) / batch_rows)
                figures["pandas_s"].append(parse_seconds(text, budget / 2, "pandas")
                                           / batch_rows)
    shutil.rmtree(out, ignore_errors=True)
    med = statistics.median
    per_round = list(zip(figures["rows_s"], figures["predict_s"], figures["alone_calls_s"],
                         figures["parse_s"], strict=True))
    # The model alone on every core (rows/s), and with the server's parse on top of it: what
    # any CSV server built on this reader could reach on these cores.
    alone = [a * batch_rows for _, _, a, _ in per_round]
    ceiling = [cpus / (cpus / al + parse) for al, (_, _, _, parse) in zip(alone, per_round,
                                                                          strict=True)]
    facts = {
        "rows": total_rows, "file_mb": src.stat().st_size / 1e6, "batch_rows": batch_rows,
        "rows_per_s": med(figures["rows_s"]),
        "rows_per_s_min": min(figures["rows_s"]), "rows_per_s_max": max(figures["rows_s"]),
        "predict_rows_per_s_cores_x_one": med(cpus * batch_rows / t for t in
                                              figures["predict_s"]),
        "predict_rows_per_s_all_cores": med(alone),
        "server_parse_rows_per_s_one_core": med(1 / t for t in figures["parse_s"]),
        "pandas_parse_rows_per_s_one_core": med(1 / t for t in figures["pandas_s"]),
        "ratio_cores_x_one": med(r * t / (cpus * batch_rows)
                                 for r, t, _, _ in per_round),
        "ratio_all_cores": med(r / al for (r, _, _, _), al in zip(per_round, alone,
                                                                  strict=True)),
        "ceiling_share_of_predict": med(c / al for c, al in zip(ceiling, alone, strict=True)),
        "ratio_ceiling": med(r / c for (r, _, _, _), c in zip(per_round, ceiling,
                                                              strict=True)),
        "rounds": rounds,
    }
    for k, v in facts.items():
        report.facts[f"{label}_{k}"] = v
    return facts


def transform_targets(report: Report, name: str, f: dict[str, float]) -> None:
    """The two transform targets of issue 18, with what limits them when missed."""
    cpus = len(os.sched_getaffinity(0))
    spent = cpus / f["rows_per_s"] * 1e6
    predict = cpus / f["predict_rows_per_s_all_cores"] * 1e6
    parse = 1e6 / f["server_parse_rows_per_s_one_core"]
    limit = (f"per row and core the whole transform spends {spent:.2f} µs: predict "
             f"{predict:.2f} µs (every core predicting), the server's CSV parse {parse:.2f} µs "
             f"(pandas' reader: {1e6 / f['pandas_parse_rows_per_s_one_core']:.2f} µs), and "
             f"{max(0.0, spent - predict - parse):.2f} µs for HTTP, encoding the predictions "
             "and the runner, which shares these cores")
    report.target(f"{name}: share of in-process predict (the model on all cores)",
                  f["ratio_all_cores"], 0.75, True, "ratio", limit)
    report.target(f"{name}: share of the parse + predict ceiling", f["ratio_ceiling"], 0.9,
                  True, "ratio", limit)


@contextmanager
def batch_server(image: str, model_dir: Path) -> Iterator[tuple[str, bool]]:
    """The image serving a batch transform, as `smkit transform` runs it; yields its URL
    (the container's bridge address when reachable) and whether that is the bridge's."""
    from smkit.image.docker import serve

    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
           "SMKIT_ACCESS_LOG": "false"}
    with serve(image, model_dir, env=env) as srv:
        url = srv.fastest_url()
        assert url is not None
        yield url, url != srv.url


def run_transform_bench(report: Report, rf_dir: Path, rf_rows: np.ndarray, work: Path,
                        size_mb: int, budget: float, rounds: int) -> None:
    """The RF batch transform over a ``size_mb`` CSV through smkit's runner against the
    image, as `smkit transform` runs it (the container's bridge address when reachable)."""
    src, total_rows, block = write_transform_input(work, rf_rows, size_mb)
    model = joblib.load(rf_dir / "model.joblib")
    cpus = len(os.sched_getaffinity(0))
    with batch_server(IMAGE, rf_dir) as (url, direct):
        report.facts["transform_direct_to_container"] = direct
        f = transform_rounds(
            report, "transform", url, src, total_rows, rf_rows, block,
            lambda X: predict_seconds(model, X, budget),
            lambda X: concurrent_predict_rps(model, X, cpus, budget), rounds, budget)
    transform_targets(report, "RF batch transform", f)


def run_text(report: Report, work: Path, seconds: float, budget: float, rounds: int) -> None:
    """The text pipeline scenario (bench/text_scenario.py)."""
    import text_scenario

    text_scenario.run_text_scenario(report, work, seconds, budget, rounds)


def run_shards(report: Report, quick: bool) -> None:
    """Local sharded batch transform on one and two instances (bench/shard_bench.py)."""
    import shard_bench

    rows = 50_000 if quick else 200_000
    by_instances = shard_bench.rows_per_s_by_instances(IMAGE, rows=rows)
    report.facts["shard_transform_rows"] = rows
    for n, rate in by_instances.items():
        report.facts[f"shard_transform_rows_per_s_{n}_instance{'s' if n > 1 else ''}"] = rate


def run_split(report: Report, quick: bool) -> None:
    """One large file with 1 and 2 instances, --split, each container --cpus 1
    (bench/split_bench.py): records/s from first request to last answer, and the ratio."""
    import split_bench

    result = split_bench.measure(IMAGE, rows=60_000 if quick else 150_000,
                                 rounds=1 if quick else 3)
    print("\n".join(result.lines()), file=sys.stderr)
    report.facts["split_transform_rows"] = result.rows
    report.facts["split_transform_ratio_rounds"] = ", ".join(f"{x:.2f}" for x in result.ratios)
    for run in (result.one, result.two):
        key = f"split_transform_{run.instances}_instance{'s' if run.instances > 1 else ''}"
        report.facts[f"{key}_records_per_s"] = run.records_per_s
        report.facts[f"{key}_records_per_s_per_instance"] = run.per_instance
        report.facts[f"{key}_startup_s"] = run.startup_s
    report.facts["split_transform_outputs_byte_identical"] = (
        "yes" if result.identical else "NO")
    report.target("split transform, 2 instances vs 1 (--cpus 1 each)", result.ratio,
                  split_bench.TARGET_RATIO, True, "x",
                  limit=f"the host's load average was {result.load_before:.1f} to "
                        f"{result.load_after:.1f} on "
                        f"{len(os.sched_getaffinity(0))} CPUs: two --cpus 1 containers and "
                        "smkit's runner share them with everything else running")


def run_big(report: Report, work: Path) -> None:
    """A model of about 1 GB served by 1, 2 and 4 workers (bench/big_model.py)."""
    import big_model

    big_model.run_big_model(report, work)


def run_products(report: Report, work: Path, rf_rows: np.ndarray, seconds: float,
                 budget: float, rounds: int, quick: bool, transform_mb: int) -> None:
    """Product images: build times, sizes, and boosted trees served from their own image.

    ``quick`` skips the no-cache builds and LightGBM (XGBoost's 1-row and 1,000-row
    scenarios still run, on warm caches).
    """
    import products

    Xr, yr = make_classification(n_samples=5000, n_features=20, random_state=0)
    model_dirs = products.train_boosters(work, Xr, yr)
    names = ["xgboost"] if quick else ["xgboost", "lightgbm"]
    tags = {name: products.product_image(name) for name in names}
    products.run_builds(report.facts, work, cold=not quick)
    if quick:
        report.facts["product_builds_no_cache"] = "skipped in --quick (run `make bench`)"
        report.facts["product_lightgbm"] = "skipped in --quick"
    products.run_sizes(report.facts, IMAGE, tags)
    labels = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}
    scenarios = [
        Scenario(f"{labels[name]} 100 trees (product image), {n}", model_dirs[name], rf_rows,
                 rows, conns, "model", image=tags[name])
        for name in names
        for n, rows, conns in (("1 row", 1, 8), ("1,000 rows", 1000, 4))
    ]
    run_throughput(report, scenarios, work, seconds, budget, rounds)
    # The batch transform in each product image, against its own in-image predict.
    cpus = len(os.sched_getaffinity(0))
    src, total_rows, block = write_transform_input(work, rf_rows, transform_mb)
    for name in names:
        with products.ImageProbe(tags[name], model_dirs[name], work) as probe, batch_server(
                tags[name], model_dirs[name]) as (url, _direct):
            f = transform_rounds(
                report, f"transform_{name}", url, src, total_rows, rf_rows, block,
                partial(probe.predict_seconds, budget_s=budget),
                partial(probe.alone_rps, procs=cpus, seconds=budget), rounds, budget)
        transform_targets(report, f"{labels[name]} batch transform (product image)", f)


# ----------------------------------------------------------------------------- output


def render(report: Report) -> str:
    """The report as Markdown."""
    lines = [f"# smkit bench, {report.started}{' (quick)' if report.quick else ''}", "",
             f"{len(os.sched_getaffinity(0))} CPUs, {WORKERS} workers, wrk over loopback; "
             f"{report.rows[0]['rounds'] if report.rows else 0} interleaved round(s) per "
             "scenario, figures and ratios are medians over the rounds.", "",
             "| scenario | type | req/s | rows/s | p50 ms | p99 ms | errors | predict µs (min-max) "
             "| model-alone req/s | ratio to model | measured alone req/s | ratio to it "
             "| floor req/s | ratio to floor |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report.rows:
        # Scenarios from other modules (text_scenario) may lack some columns: shown as a dash.
        def f(key: str, fmt: str, r: dict[str, Any] = r) -> str:
            return format(r[key], fmt) if key in r else "–"

        span = (f" ({f('predict_us_min', ',.0f')}-{f('predict_us_max', ',.0f')})"
                if "predict_us_min" in r else "")
        lines.append(
            f"| {r['scenario']} | {r['content_type']} | {f('rps', ',.0f')} "
            f"| {f('rows_per_s', ',.0f')} | {f('p50_ms', '.2f')} | {f('p99_ms', '.2f')} "
            f"| {r.get('errors', '–')} | {f('predict_us', ',.0f')}{span} "
            f"| {f('model_alone_rps', ',.0f')} | {f('ratio_model', '.2f')} "
            f"| {f('measured_alone_rps', ',.0f')} | {f('ratio_measured_alone', '.2f')} "
            f"| {f('floor_rps', ',.0f')} | {f('ratio_floor', '.2f')} |")
    lines += ["", "| fact | value |", "|---|---|"]
    for k, v in report.facts.items():
        lines.append(f"| {k} | {v:,.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", "| target | this run | goal | met |", "|---|---:|---:|---|"]
    for t in report.targets:
        op = "≥" if t["higher_is_better"] else "≤"
        lines.append(f"| {t['target']} | {t['value']:.3f} {t['unit']} | {op} {t['goal']} "
                     f"| {'yes' if t['met'] else 'NO'} |")
    missed = [t for t in report.targets if not t["met"] and t.get("limit")]
    if missed:
        lines += ["", "What limits the missed targets (this run's figures):", ""]
        lines += [f"- {t['target']}: {t['limit']}." for t in missed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; ``--quick`` finishes in under a minute."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, a 50 MB transform")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--transform-mb", type=int, default=None,
                        help="size of the transform input (default 1000, quick 50)")
    parser.add_argument("--no-products", action="store_true",
                        help="skip the product images (builds, sizes, XGBoost/LightGBM)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: wrk is missing; run `make bench` (it installs it)", file=sys.stderr)
        return 2
    seconds = 2.0 if args.quick else 9.0
    budget = 0.5 if args.quick else 2.0
    size_mb = args.transform_mb or (50 if args.quick else 1000)
    report = Report(started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    quick=args.quick)
    # Other jobs on the machine show up in every figure: record how busy it was.
    report.facts["load_average_1min_at_start"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="smkit-bench-") as tmp:
        work = Path(tmp)
        iris_dir, rf_dir, iris_rows, rf_rows = build_models(work)
        scenarios = [
            Scenario("iris, 1 row", iris_dir, iris_rows, 1, 8, "floor"),
            Scenario("iris, 1,000 rows", iris_dir, iris_rows, 1000, 4, "floor"),
            Scenario("RF 100 trees, 1 row", rf_dir, rf_rows, 1, 8, "model"),
            Scenario("RF 100 trees, 1,000 rows", rf_dir, rf_rows, 1000, 4, "model"),
        ]
        rounds = 1 if args.quick else 3
        steps: list[tuple[str, Callable[[], None]]] = [
            ("throughput", lambda: run_throughput(report, scenarios, work, seconds, budget,
                                                  rounds)),
            ("cold start and memory", lambda: run_cold_start_and_memory(report, iris_dir)),
            ("batch transform", lambda: run_transform_bench(report, rf_dir, rf_rows, work,
                                                            size_mb, budget, rounds)),
        ]
        steps.append(("text pipeline (quoted CSV, JSON records)", lambda: run_text(
            report, work, seconds, budget, rounds)))
        steps.append(("sharded transform, 1 and 2 instances", lambda: run_shards(
            report, quick=args.quick)))
        steps.append(("one file split over 1 and 2 instances, --cpus 1 each",
                      lambda: run_split(report, quick=args.quick)))
        if args.quick:
            report.facts["big_model"] = "skipped in --quick (training takes about a minute)"
        else:
            steps.append(("big model (about 1 GB, shared by the workers)",
                          lambda: run_big(report, work)))
        if args.no_products or shutil.which("docker") is None:
            report.facts["product_images"] = "skipped (--no-products or no docker)"
        else:
            steps.append(("product images", lambda: run_products(
                report, work, rf_rows, seconds, budget, rounds, quick=args.quick,
                transform_mb=min(size_mb, 300))))
        for label, step in steps:
            t0 = time.monotonic()
            print(f"bench: {label}...", file=sys.stderr, flush=True)
            step()
            print(f"bench: {label} done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    report.facts["load_average_1min_at_end"] = os.getloadavg()[0]
    text = render(report)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M")
    suffix = "-quick" if args.quick else ""
    (RESULTS / f"{stamp}{suffix}.md").write_text(text)
    (RESULTS / f"{stamp}{suffix}.json").write_text(json.dumps(
        {"started": report.started, "quick": report.quick, "rows": report.rows,
         "facts": report.facts, "targets": report.targets}, indent=1))
    missed = [t["target"] for t in report.targets if not t["met"]]
    if missed:
        print("bench: targets missed: " + "; ".join(missed), file=sys.stderr)
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
