"""The server imports pandas only for models that need DataFrames, and then before fork.

Each case runs in a fresh interpreter, since the test process itself has pandas loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from smkit_serve.__main__ import prepare
from smkit_serve.settings import Settings
loaded = prepare(Settings.from_env())
print(json.dumps({"ready": loaded.ready, "reason": loaded.reason,
                  "pandas": "pandas" in sys.modules, "sklearn": "sklearn" in sys.modules}))
"""


def load_in_fresh_interpreter(model_dir: Path, batch: bool = False) -> dict[str, object]:
    """Load and smoke-test ``model_dir`` as the gunicorn master does; what got imported."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, timeout=120, check=True,
        env={"PYTHONPATH": str(REPO / "container"), "PATH": "/usr/bin:/bin",
             "SMKIT_MODEL_DIR": str(model_dir), "SAGEMAKER_BATCH": str(batch).lower()},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_numpy_model_is_served_without_importing_pandas(iris_model_dir: Path) -> None:
    state = load_in_fresh_interpreter(iris_model_dir)
    assert state["ready"], state["reason"]
    assert state["sklearn"] is True
    assert state["pandas"] is False


def test_a_dataframe_pipeline_gets_pandas_in_the_master_before_fork(
    pipeline_model_dir: Path,
) -> None:
    state = load_in_fresh_interpreter(pipeline_model_dir)
    assert state["ready"], state["reason"]
    assert state["pandas"] is True


def test_a_batch_transform_server_of_a_numpy_model_needs_no_pandas(
    iris_model_dir: Path,
) -> None:
    """Its large CSV bodies go through simdjson, so pandas stays out of its memory too."""
    state = load_in_fresh_interpreter(iris_model_dir, batch=True)
    assert state["ready"], state["reason"]
    assert state["pandas"] is False
