"""Product images in ``make bench``: build times, image sizes, and boosted-tree models served
from their own product image.

- The XGBoost and LightGBM models are trained in a venv of their own (the host's does not
  have those libraries), made once under ``build/bench-venvs/<hash of the pins>`` with pip
  and reused, on the same ``make_classification`` data as the forest scenario.
- Their product images come from ``smkit.image.build.ensure_image``, exactly as ``smkit build``
  makes them (content-named, so built once).
- ``ImageProbe`` times in-process ``predict`` inside the product image itself (``bench/
  inimage.py`` under ``docker exec``, network none), so the server and the model alone are
  compared on the same libraries; ``container_server`` runs that image's server.
- ``run_builds`` times the server base and a product layer built with no cache, a rebuild
  after a source-only change, and ``ensure_image`` of unchanged content.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import smkit.image.build as images
from smkit.image import docker
from smkit.project.spec import PythonEnv

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
VENVS = REPO / "build" / "bench-venvs"
#: Bump when the way the venv is made changes, so an old cached one is not reused.
VENV_KIT = "1"
#: What the boosters are trained with. ``xgboost-cpu`` is the ``xgboost`` module without the
#: NCCL wheel (nvidia-nccl-cu12, about 300 MB) that pip resolves for plain ``xgboost`` on Linux.
TRAIN_PINS = ("xgboost-cpu==3.2.0", "lightgbm==4.7.0", "scikit-learn==1.9.1", "numpy==2.4.6",
              "scipy==1.17.1", "joblib==1.6.0")
#: Each product's python section (what a seller's ``smkit env detect`` would write).
PRODUCTS: dict[str, tuple[str, ...]] = {
    "xgboost": ("xgboost-cpu==3.2.0", "scikit-learn==1.9.1", "numpy==2.4.6"),
    "lightgbm": ("lightgbm==4.7.0", "scikit-learn==1.9.1", "numpy==2.4.6"),
}
#: Same shape of model as the forest scenario: 100 trees. Both keep their library's default
#: n_jobs, as sellers train them (issue 23: LightGBM's hung the server, and n_jobs=1 here hid
#: that), so each predicts on its own OpenMP pool (LightGBM's is one threadpoolctl does not
#: cap).
TRAIN_SCRIPT = """
import sys
import joblib, numpy as np
from pathlib import Path
from lightgbm import LGBMClassifier
from xgboost import XGBClassifier
X, y, out = np.load(sys.argv[1]), np.load(sys.argv[2]), Path(sys.argv[3])
for name, model in (
    ("xgboost", XGBClassifier(n_estimators=100, random_state=0, tree_method="hist")),
    ("lightgbm", LGBMClassifier(n_estimators=100, random_state=0, verbose=-1)),
):
    (out / name).mkdir(parents=True, exist_ok=True)
    joblib.dump(model.fit(X, y), out / name / "model.joblib")
"""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def training_python() -> Path:
    """The venv's interpreter with ``TRAIN_PINS`` (CPython 3.11, the image's); made once."""
    base = shutil.which("python3.11") or sys.executable
    version = subprocess.run([base, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if not version.startswith("3.11"):
        raise RuntimeError(f"the bench's training venv needs CPython 3.11; {base} is {version}")
    key = hashlib.sha256(json.dumps({"pins": sorted(TRAIN_PINS), "python": version,
                                     "kit": VENV_KIT}).encode()).hexdigest()[:16]
    path = VENVS / key
    marker = path / ".smkit-complete.json"
    VENVS.mkdir(parents=True, exist_ok=True)
    with (VENVS / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.is_file():
            _log(f"bench: making the training venv {path} ({', '.join(TRAIN_PINS)})")
            shutil.rmtree(path, ignore_errors=True)
            subprocess.run([base, "-m", "venv", str(path)], check=True, env=_clean_env())
            subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--no-input", "--disable-pip-version-check", "--only-binary=:all:",
                            *TRAIN_PINS], check=True, env=_clean_env(), timeout=1800)
            marker.write_text(json.dumps({"pins": sorted(TRAIN_PINS)}))
    return path / "bin" / "python"


def train_boosters(work: Path, X: np.ndarray, y: np.ndarray) -> dict[str, Path]:
    """Train XGBoost and LightGBM (100 trees each) on ``X, y``; their model folders by name."""
    python = training_python()
    np.save(work / "boost-X.npy", X)
    np.save(work / "boost-y.npy", y)
    out = work / "boosters"
    subprocess.run([str(python), "-c", TRAIN_SCRIPT, str(work / "boost-X.npy"),
                    str(work / "boost-y.npy"), str(out)], check=True, env=_clean_env(),
                   timeout=600)
    return {name: out / name for name in PRODUCTS}


def product_env(name: str, source: tuple[Path, ...] = ()) -> PythonEnv:
    """The python section of product ``name`` (and ``source``, for the rebuild timing)."""
    return PythonEnv.model_validate({"packages": list(PRODUCTS[name]),
                                     "source": list(source)})


def product_image(name: str) -> str:
    """Product ``name``'s image tag, built (once per content) as ``smkit build`` does."""
    return images.ensure_image(product_env(name), log=_log)


def image_mb(tag: str) -> float:
    """``docker image inspect``'s size of ``tag`` in MB (10^6 bytes)."""
    out = docker.docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.decode().strip()
    return int(out) / 1e6


class ImageProbe:
    """A container of ``image`` (network none) that times the model in-process on demand."""

    def __init__(self, image: str, model_dir: Path, work: Path) -> None:
        self.image, self.model_dir, self.work = image, model_dir, work
        self.name = f"smkit-bench-probe-{uuid.uuid4().hex[:8]}"
        self._arrays: dict[int, str] = {}

    def __enter__(self) -> ImageProbe:
        # The owner label keeps smkit's leftover sweep (docker.remove_leftovers, which other
        # runs call) from removing it while this bench runs.
        docker.docker("run", "-d", "--rm", "--name", self.name, "--label", docker.LABEL,
                      "--label", f"{docker.OWNER_LABEL}={os.getpid()}",
                      "--network", "none", "--entrypoint", "sleep",
                      "-v", f"{self.model_dir.resolve()}:/opt/ml/model:ro",
                      "-v", f"{self.work.resolve()}:/bench-data:ro",
                      "-v", f"{BENCH_DIR}:/bench:ro", self.image, "infinity")
        return self

    def __exit__(self, *exc: object) -> None:
        docker.docker("rm", "-f", self.name, check=False)

    def _x(self, X: np.ndarray) -> str:
        key = id(X)
        if key not in self._arrays:
            name = f"probe-{uuid.uuid4().hex[:8]}.npy"
            np.save(self.work / name, X)
            self._arrays[key] = f"/bench-data/{name}"
        return self._arrays[key]

    def _run(self, *args: str, timeout: float) -> Any:
        proc = docker.docker("exec", self.name, "python", "/bench/inimage.py", args[0],
                             "/opt/ml/model/model.joblib", *args[1:], timeout=timeout)
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])

    def predict_seconds(self, X: np.ndarray, budget_s: float) -> float:
        """Median seconds of one ``predict(X)`` on one thread, inside the image."""
        return float(self._run("predict", self._x(X), str(budget_s), timeout=budget_s + 120))

    def alone_rps(self, X: np.ndarray, procs: int, seconds: float) -> float:
        """Calls/s of ``procs`` processes predicting at once inside the image."""
        return float(self._run("alone", self._x(X), str(seconds), str(procs),
                               timeout=seconds + 120))


@contextlib.contextmanager
def container_server(image: str, model_dir: Path, workers: int) -> Iterator[tuple[str, int]]:
    """The image's server; yields (its URL inside the container, the PID whose network
    namespace to load it from).

    wrk runs inside the container's network namespace (``nsenter``) against 127.0.0.1, as
    the host scenarios run against the host's loopback. From the host, at thousands of new
    connections a second, the client's side of each closed connection sits 60 s in
    TIME_WAIT, and to a non-loopback address (the bridge, or docker-proxy's own upstream
    connections) Linux reuses none of them (``tcp_tw_reuse=2`` is loopback only): the 28,000
    ephemeral ports run out after about a minute and every connect waits for one. The bench
    would measure that, not the server.
    """
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers), "SMKIT_ACCESS_LOG": "false"}
    with docker.serve(image, model_dir, env=env) as srv:
        pid = int(docker.docker("inspect", "-f", "{{.State.Pid}}", srv.name)
                  .stdout.decode().strip())
        time.sleep(1.0)  # every worker booted (the master answers /ping once the model loads)
        yield f"http://127.0.0.1:{docker.CONTAINER_PORT}", pid


# ----------------------------------------------------------------------------- builds


def _timed(call: Any) -> tuple[float, Any]:
    t0 = time.monotonic()
    value = call()
    return time.monotonic() - t0, value


def run_builds(facts: dict[str, Any], work: Path, cold: bool) -> None:
    """Build timings into ``facts``; ``cold`` adds the no-cache builds (minutes).

    The base is taken once, so the layer timings are of the layer alone.
    """
    if cold:
        t, _ = _timed(lambda: images.ensure_base(_log, no_cache=True))
        facts["build_base_no_cache_s"] = t
    base = images.ensure_base(_log)
    env = product_env("xgboost")
    t, layer = _timed(lambda: images.layer_for(env, _log))
    facts["build_resolve_xgboost_s"] = t
    plan = layer.plan(base)
    # The wheels are fetched first: the timing is the build, not the download.
    images.fetch(plan.wheels, find_links=plan.local_wheels, log=_log)
    if cold:
        t, _ = _timed(lambda: images.build_plan(plan, [], _log, no_cache=True))
        facts["build_xgboost_layer_no_cache_s"] = t
        facts["build_xgboost_layer_note"] = "wheels already in the wheelhouse"
    elif not docker.image_exists(plan.tag):
        images.build_plan(plan, [], _log)
    # A source-only change: the package layer is cached, the source layer is rebuilt. Two
    # versions of one module, each new content (the run's stamp); the second is timed.
    src = work / "bench_src"
    src.mkdir(exist_ok=True)
    module = src / "bench_features.py"
    stamp = uuid.uuid4().hex
    tags = []
    for version in (1, 2):
        module.write_text(f'"""Bench source ({stamp}, v{version})."""\nVERSION = {version}\n')
        source_plan = images.layer_for(product_env("xgboost", (module,)), _log).plan(base)
        t, _ = _timed(functools.partial(images.build_plan, source_plan, [], _log))
        tags.append(source_plan.tag)
    facts["build_source_change_s"] = t
    for tag in tags:
        docker.docker("rmi", tag, check=False)
    # Unchanged content: ensure_image resolves, finds the image and builds nothing.
    t, tag = _timed(lambda: images.ensure_image(env, log=_log))
    facts["ensure_image_unchanged_xgboost_s"] = (
        t if tag == plan.tag else "n/a: the server's source changed during the run")
    t, _ = _timed(lambda: images.ensure_image(None, log=_log))
    facts["ensure_image_unchanged_default_s"] = t


def run_sizes(facts: dict[str, Any], default_image: str, products: dict[str, str]) -> None:
    """Sizes of the server base, the default image and each product image, in MB."""
    base = images.ensure_base(_log)
    base_mb = image_mb(base)
    facts["image_base_mb"] = base_mb
    facts["image_default_mb"] = image_mb(default_image)
    facts["image_default_layer_mb"] = facts["image_default_mb"] - base_mb
    for name, tag in products.items():
        facts[f"image_{name}_mb"] = image_mb(tag)
        facts[f"image_{name}_layer_mb"] = facts[f"image_{name}_mb"] - base_mb
