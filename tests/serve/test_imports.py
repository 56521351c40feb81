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
from smkit_serve.handler import smoke_check
from smkit_serve.model import load_model
loaded = load_model(sys.argv[1])
smoke_check(loaded, sys.argv[1])
print(json.dumps({"ready": loaded.ready, "reason": loaded.reason,
                  "pandas": "pandas" in sys.modules, "sklearn": "sklearn" in sys.modules}))
"""


def load_in_fresh_interpreter(model_dir: Path) -> dict[str, object]:
    """Load and smoke-test ``model_dir`` as the gunicorn master does; what got imported."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(model_dir)],
        capture_output=True, text=True, timeout=120, check=True,
        env={"PYTHONPATH": str(REPO / "container"), "PATH": "/usr/bin:/bin"},
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
