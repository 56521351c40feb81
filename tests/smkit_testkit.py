"""Helpers shared by the test modules (importable as ``smkit_testkit``; no fixtures here)."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import requests
from smkit.image.docker import free_port  # noqa: F401 (re-exported for the tests)


def save_model(model: object, directory: Path) -> Path:
    """Dump ``model`` as ``directory/model.joblib`` and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    return directory


def penguin_like_frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A mixed numeric/categorical frame with a learnable label (string classes)."""
    rng = np.random.default_rng(seed)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], size=n)
    sex = rng.choice(["male", "female"], size=n)
    bill = rng.normal(44, 5, size=n)
    mass = rng.normal(4200, 800, size=n)
    label = np.where((bill > 44) & (island != "Torgersen"), "Gentoo", "Adelie")
    frame = pd.DataFrame(
        {"island": island, "bill_length_mm": bill, "sex": sex, "body_mass_g": mass}
    )
    return frame, label


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the docker CLI with a list of arguments."""
    return subprocess.run(
        ["docker", *args], check=check, capture_output=True, text=True, timeout=timeout
    )


def wait_for_ping(url: str, deadline_s: float, want: int | None = 200) -> tuple[int, float]:
    """Poll ``GET /ping`` until it answers ``want`` (any status if None) or time runs out."""
    start = time.monotonic()
    last: int | None = None
    while time.monotonic() - start < deadline_s:
        try:
            last = requests.get(f"{url}/ping", timeout=2).status_code
            if want is None or last == want:
                return last, time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"/ping did not answer {want} within {deadline_s}s (last: {last})")


#: A seller's training script that defines its own transformer in the script itself.
TRAIN_IN_MAIN = """\
import sys

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier


class LogDistance(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.log1p(np.abs(X))


X, y = load_iris(return_X_y=True)
model = make_pipeline(LogDistance(), DecisionTreeClassifier(random_state=0)).fit(X, y)
joblib.dump(model, sys.argv[1])
"""


def csv_row_ends(data: bytes) -> set[int]:
    """Byte offsets where Python's csv reader ends a row: an oracle for record boundaries
    that shares no code with smkit's own cutting."""
    ends, offset = {0}, 0
    lines = io.BytesIO(data).readlines()

    def texts() -> Iterator[str]:
        nonlocal offset
        for line in lines:
            offset += len(line)
            yield line.decode()

    for _ in csv.reader(texts()):
        ends.add(offset)
    return ends


#: A seller's own step, in their own module (hang.py): it passes rows through when the model
#: is trained, and its transform never returns when the model predicts.
HANG_MODULE = """
import threading

from sklearn.base import BaseEstimator, TransformerMixin


class Hang(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X, y=None):
        self.fit(X)
        return X

    def transform(self, X):
        threading.Event().wait()
"""
#: Trains a Pipeline(Hang, DecisionTreeClassifier) on iris and saves it to sys.argv[1]; run
#: it as a script beside hang.py.
HANG_TRAIN = """
import sys

import joblib
from hang import Hang
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

X, y = load_iris(return_X_y=True)
joblib.dump(make_pipeline(Hang(), DecisionTreeClassifier()).fit(X, y), sys.argv[1])
"""
