"""smkit's batch transform runner and the real image together: a worker that dies mid-batch.

SageMaker retries a failing invocation (ModelClientConfig.InvocationsMaxRetries, 0 to 3,
default 3); gunicorn's master replaces the dead worker. The model's predict_fn kills its
worker process (os._exit) the first time it sees a marker row, using a file in the
container's /tmp as the once-flag, so the retry succeeds. Expected outputs come from the
model called in-process: every record exactly once, in order.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from smkit.project.transform_job import TransformConfig
from smkit.transform.image import run_transform_with_image
from smkit_testkit import save_model

pytestmark = pytest.mark.container

CRASH, FAIL = 77.0, 78.0
CRASH_ONCE_HOOKS = f"""
import os

def _first_time(name):
    flag = "/tmp/smkit-test-once-" + name
    if os.path.exists(flag):
        return False
    open(flag, "w").close()
    return True

def predict_fn(data, model):
    # The first request holding a {CRASH} row kills this worker outright (no answer at all);
    # the first holding a {FAIL} row raises, so the server answers 500.
    if (data[:, 0] == {CRASH}).any() and _first_time("crash"):
        os._exit(1)
    if (data[:, 0] == {FAIL}).any() and _first_time("fail"):
        raise RuntimeError("a transient failure")
    return model.predict(data)
"""


@pytest.fixture(scope="module")
def crashing_model_dir(tmp_path_factory: pytest.TempPathFactory, iris) -> Path:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    d = save_model(DecisionTreeClassifier(random_state=0).fit(X, y),
                   tmp_path_factory.mktemp("crash"))
    (d / "code").mkdir()
    (d / "code" / "inference.py").write_text(CRASH_ONCE_HOOKS)
    return d


def _rows(n: int, marker: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    X = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(n, 4)).round(4)
    X[n // 2, 0] = marker
    return X


@pytest.mark.parametrize(
    ("n", "strategy", "payload_mb", "marker"),
    [(120_000, "MultiRecord", 1, CRASH), (200, "SingleRecord", 1, CRASH),
     (3_000, "MultiRecord", 0, CRASH), (120_000, "MultiRecord", 1, FAIL)],
    ids=["worker-dies-multi-record", "worker-dies-single-record", "worker-dies-streamed",
         "500-once"],
)
def test_a_mini_batch_whose_worker_dies_is_retried_and_every_record_is_written_once(
    image: str, crashing_model_dir: Path, tmp_path: Path, n: int, strategy: str,
    payload_mb: int, marker: float,
) -> None:
    X = _rows(n, marker)
    path = tmp_path / "in" / "rows.csv"
    path.parent.mkdir()
    path.write_text("".join(",".join(repr(float(v)) for v in r) + "\n" for r in X))
    model = joblib.load(crashing_model_dir / "model.joblib")
    expected = "".join(f"{v}\n" for v in model.predict(X).tolist()).encode()

    cfg = TransformConfig(inputs=[path], output_dir=tmp_path / "out", progress=False,
                          content_type="text/csv", split_type="Line",
                          batch_strategy=strategy, max_payload_mb=payload_mb,
                          max_concurrent_transforms=2, assemble_with="Line",
                          environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    report = run_transform_with_image(cfg, image, crashing_model_dir)

    assert report.ok, report.summary()
    result = report.files[path]
    assert result.retries >= 1, "the marker's mini-batch should have been sent again"
    assert (tmp_path / "out" / "rows.csv.out").read_bytes() == expected
    assert result.records == n
