"""``docker run IMAGE describe|versions``: what the image holds and what it makes of a model.

The seller tooling runs these inside the product image (``--network none``), so the host
never needs the seller's libraries: the image that will serve the model is the one that
loads it, reports its shape and the scikit-learn version it was pickled with, and names a
module the pickle needs that the image lacks. A model that hangs is given up on: loading
within SageMaker's start-up limit, predicting the sample within the server's own request
limit (``_Deadline``), and the description then names the hang.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from smkit_contract.describe import (
    CONTENT_TYPE_FILE,
    INPUT_DIR,
    OVERRIDES_FILE,
    SAMPLE_FILE,
    Derivation,
    Description,
    ImageVersions,
    ModelFacts,
)
from smkit_contract.limits import STARTUP_LIMIT_SECONDS
from smkit_contract.names import CODE_DIR, CONTAINER_MODEL_DIR, DEFAULT_PROGRAM


def versions() -> ImageVersions:
    """Python, smkit and every installed distribution with its version."""
    import os

    packages = {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()}
    return ImageVersions(python=platform.python_version(),
                         smkit=os.environ.get("SMKIT_VERSION", ""), packages=packages)


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


class _Deadline:
    """Gives up on a model that hangs: prints the description naming the hang and exits 1.

    A timer thread rather than a signal, so a model stuck in a blocking native call (whose
    signal handlers would never run) is still answered.
    """

    def __init__(self, image: ImageVersions, predict_seconds: float,
                 load_seconds: float = STARTUP_LIMIT_SECONDS) -> None:
        self.image = image
        self.load_seconds = load_seconds
        self.predict_seconds = predict_seconds
        self.model_file: str | None = None
        #: Set once the model loaded: what the description says besides the hang.
        self.model: Any = None
        self.facts: ModelFacts | None = None
        self.pickled: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None

    def loading(self) -> None:
        """Loading starts: give it ``load_seconds``."""
        self._arm(self.load_seconds)

    def predicting(self, model: Any, facts: ModelFacts, pickled: tuple[str, ...]) -> None:
        """The model loaded and is about to predict the sample: give it ``predict_seconds``."""
        self.model, self.facts, self.pickled = model, facts, pickled
        self._arm(self.predict_seconds)

    def finish(self) -> bool:
        """Stop the clock; False when the time ran out first (the timer prints and exits)."""
        with self._lock:
            if self._done:
                return False
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
        return True

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        from .watchdog import describe_timeout_message, load_timeout_message

        with self._lock:
            if self._done:
                return
            self._done = True
        if self.facts is None:
            out = Description(versions=self.image, model_file=self.model_file,
                              error=load_timeout_message(self.model_file or "the model",
                                                         self.load_seconds))
        else:
            error = describe_timeout_message(self.model, self.predict_seconds)
            out = Description(versions=self.image, model_file=self.model_file,
                              pickled_sklearn=self.pickled, model=self.facts,
                              derivation=Derivation(error=error))
        os.write(1, _printed(out).encode())
        os._exit(1)


def _printed(out: Description | ImageVersions) -> str:
    return json.dumps(out.to_json(), sort_keys=True, indent=1, default=str) + "\n"


def describe(model_dir: str, deadline: _Deadline | None = None) -> Description:
    """Load the model as the server would and describe it; failures become ``error``.

    With ``deadline``, a load or prediction that overruns its limit ends the process with
    the description of the hang printed instead.
    """
    from .model import ModelLoadError, find_model_file, import_sklearn

    image = versions() if deadline is None else deadline.image
    if deadline is not None:
        deadline.loading()
    try:
        import_sklearn()
        path = find_model_file(model_dir)
    except ModelLoadError as e:
        return Description(versions=image, error=str(e))
    if path.suffix == ".skops":
        from .model import _load_skops

        load = _load_skops
    else:
        import joblib

        load = joblib.load
    if deadline is not None:
        deadline.model_file = path.name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = load(path)
        except ModuleNotFoundError as e:
            return Description(versions=image, model_file=path.name,
                               error=f"{type(e).__name__}: {e}", missing_module=e.name)
        except Exception as e:  # noqa: BLE001  # any failure is reported to the host
            return Description(versions=image, model_file=path.name,
                               error=f"{type(e).__name__}: {e}")
    pickled = sorted({
        str(getattr(w.message, "original_sklearn_version", ""))
        for w in caught if type(w.message).__name__ == "InconsistentVersionWarning"
    })
    from .columns import width_and_names

    # The server's own reading of the width and names (CatBoost reports 0 features once
    # unpickled; a Pipeline's first step may know them when the Pipeline does not).
    n, names = width_and_names(model)
    classes = getattr(model, "classes_", None)
    facts = ModelFacts(
        type=type(model).__name__,
        module=type(model).__module__,
        task=_task(model),
        n_features=n,
        feature_names=list(names) if names is not None else None,
        classes=[_plain(c) for c in classes] if classes is not None else None,
        has_predict=hasattr(model, "predict"),
    )
    if deadline is not None:
        deadline.predicting(model, facts, tuple(pickled))
    return Description(versions=image, model_file=path.name, pickled_sklearn=tuple(pickled),
                       model=facts, derivation=_derivation(model, model_dir))


def _derivation(model: Any, model_dir: str) -> Derivation | None:
    """Derive and prove the input signature from the sample the host mounted, if any."""
    from .derive import derive

    folder = Path(INPUT_DIR)
    if not (folder / SAMPLE_FILE).is_file():
        return None
    if (Path(model_dir) / CODE_DIR).is_dir() and "def input_fn" in _hooks_text(model_dir):
        return Derivation(notes=(f"{CODE_DIR}/{DEFAULT_PROGRAM} defines input_fn, which "
                                 "decodes requests its own way: no signature is stored",))
    overrides: dict[str, Any] = {}
    if (folder / OVERRIDES_FILE).is_file():
        overrides = json.loads((folder / OVERRIDES_FILE).read_text(encoding="utf-8"))
    content_type = (folder / CONTENT_TYPE_FILE).read_text(encoding="utf-8").strip()
    return Derivation.from_json(derive(model, (folder / SAMPLE_FILE).read_bytes(),
                                       content_type, overrides))


def _hooks_text(model_dir: str) -> str:
    path = Path(model_dir) / CODE_DIR / DEFAULT_PROGRAM
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def main(command: str, model_dir: str, timeout: float | None = None) -> int:
    """Print the JSON of ``versions`` or ``describe`` on stdout.

    ``timeout`` (the server's request limit) bounds the sample's prediction, and
    SageMaker's start-up limit the load; None waits for the model however long it takes.
    """
    if command == "versions":
        sys.stdout.write(_printed(versions()))
        return 0
    deadline = None if timeout is None else _Deadline(versions(), timeout)
    described = describe(model_dir, deadline)
    if deadline is not None and not deadline.finish():
        threading.Event().wait()  # the time ran out meanwhile: the timer prints and exits
    sys.stdout.write(_printed(described))
    return 1 if described.error is not None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "describe",
                  str(Path(sys.argv[2]) if len(sys.argv) > 2 else CONTAINER_MODEL_DIR)))
