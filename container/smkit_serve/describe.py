"""``docker run IMAGE describe|versions``: what the image holds and what it makes of a model.

The seller tooling runs these inside the product image (``--network none``), so the host
never needs the seller's libraries: the image that will serve the model is the one that
loads it, reports its shape and the scikit-learn version it was pickled with, and names a
module the pickle needs that the image lacks.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
import warnings
from pathlib import Path
from typing import Any


def versions() -> dict[str, Any]:
    """Python, smkit and every installed distribution with its version."""
    import os

    packages = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    return {"python": platform.python_version(), "smkit": os.environ.get("SMKIT_VERSION", ""),
            "packages": dict(sorted(packages.items()))}


def _task(model: Any) -> str:
    from sklearn.base import is_classifier, is_regressor

    try:
        if is_classifier(model):
            return "classification"
        if is_regressor(model):
            return "regression"
    except Exception:  # noqa: BLE001  # a foreign estimator may not answer; "other" is right
        return "other"
    return "other"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def describe(model_dir: str) -> dict[str, Any]:
    """Load the model as the server would and describe it; failures become ``error``."""
    from .model import ModelLoadError, find_model_file, import_sklearn

    out: dict[str, Any] = {"versions": versions()}
    try:
        import_sklearn()
        path = find_model_file(model_dir)
    except ModelLoadError as e:
        out["error"] = str(e)
        return out
    out["model_file"] = path.name
    if path.suffix == ".skops":
        from .model import _load_skops

        load = _load_skops
    else:
        import joblib

        load = joblib.load
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = load(path)
        except ModuleNotFoundError as e:
            out["error"] = f"{type(e).__name__}: {e}"
            out["missing_module"] = e.name
            return out
        except Exception as e:  # noqa: BLE001  # any failure is reported to the host
            out["error"] = f"{type(e).__name__}: {e}"
            return out
    out["pickled_sklearn"] = sorted({
        str(getattr(w.message, "original_sklearn_version", ""))
        for w in caught if type(w.message).__name__ == "InconsistentVersionWarning"
    })
    from .columns import width_and_names

    # The server's own reading of the width and names (CatBoost reports 0 features once
    # unpickled; a Pipeline's first step may know them when the Pipeline does not).
    n, names = width_and_names(model)
    classes = getattr(model, "classes_", None)
    out["model"] = {
        "type": type(model).__name__,
        "module": type(model).__module__,
        "task": _task(model),
        "n_features": n,
        "feature_names": list(names) if names is not None else None,
        "classes": [_plain(c) for c in classes] if classes is not None else None,
        "has_predict": hasattr(model, "predict"),
    }
    signature = _signature(model, model_dir)
    if signature is not None:
        out["signature"] = signature
    return out


def _signature(model: Any, model_dir: str) -> dict[str, Any] | None:
    """Derive and prove the input signature from the sample the host mounted, if any."""
    from smkit_contract.names import CODE_DIR
    from smkit_contract.signature import DESCRIBE_INPUT_DIR

    from .derive import derive

    folder = Path(DESCRIBE_INPUT_DIR)
    if not (folder / "sample").is_file():
        return None
    if (Path(model_dir) / CODE_DIR).is_dir() and "def input_fn" in _hooks_text(model_dir):
        return {"notes": ["code/inference.py defines input_fn, which decodes requests its "
                          "own way: no signature is stored"]}
    overrides: dict[str, Any] = {}
    if (folder / "overrides.json").is_file():
        overrides = json.loads((folder / "overrides.json").read_text(encoding="utf-8"))
    content_type = (folder / "content_type").read_text(encoding="utf-8").strip()
    return derive(model, (folder / "sample").read_bytes(), content_type, overrides)


def _hooks_text(model_dir: str) -> str:
    from smkit_contract.names import CODE_DIR, DEFAULT_PROGRAM

    path = Path(model_dir) / CODE_DIR / DEFAULT_PROGRAM
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def main(command: str, model_dir: str) -> int:
    """Print the JSON of ``versions`` or ``describe`` on stdout."""
    data = versions() if command == "versions" else describe(model_dir)
    sys.stdout.write(json.dumps(data, sort_keys=True, indent=1, default=str) + "\n")
    return 0 if "error" not in data else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "describe",
                  str(Path(sys.argv[2]) if len(sys.argv) > 2 else "/opt/ml/model")))
