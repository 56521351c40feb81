"""Loading the seller's model and hooks once, and proving it predicts before serving.

``load_model`` never raises: it returns a ``LoadedModel`` that is either ready or carries
the reason it is not, which ``/ping`` answers with 503 and the log states with the fix.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from smkit_contract import model_errors
from smkit_contract.names import (
    CODE_DIR,
    CONTAINER_MODEL_DIR,
    DEFAULT_PROGRAM,
    MODEL_FILES,
    MODEL_SUFFIXES,
    SAMPLE_FILES,
    SKOPS_TRUSTED_FILE,
    ModelFileError,
    model_file,
)
from smkit_contract.signature import Signature, SignatureError, widths_match

from . import columns
from .codecs import Schema

log = logging.getLogger("smkit.model")

_SKOPS_OWN = ("sklearn.", "numpy.", "scipy.")
#: How joblib maps an uncompressed model's arrays ("c": copy-on-write, never read-only).
MMAP_MODE = "c"
HOOK_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn")


class ModelLoadError(Exception):
    """The model or hooks could not be loaded; the message says what to fix."""


@dataclass
class Hooks:
    """The seller's optional overrides from ``code/inference.py``."""

    model_fn: Callable[[str], Any] | None = None
    input_fn: Callable[[bytes, str], Any] | None = None
    predict_fn: Callable[[Any, Any], Any] | None = None
    output_fn: Callable[[Any, str], Any] | None = None
    source: str | None = None


@dataclass
class LoadedModel:
    """The model, its hooks and schema, and whether it passed the start-up check."""

    model: Any = None
    hooks: Hooks = field(default_factory=Hooks)
    schema: Schema = field(default_factory=Schema)
    ready: bool = False
    reason: str = "the model has not been loaded yet"
    classes: list[Any] | None = None
    #: The input signature from manifest.json (None: kinds come from the model and data).
    signature: Signature | None = None

    @property
    def has_proba(self) -> bool:
        """True when the model can return class probabilities."""
        return hasattr(self.model, "predict_proba")


def load_hooks(model_dir: str, program: str) -> Hooks:
    """Import ``<model_dir>/code/<program>`` if present and pick up the four hook names."""
    code_dir = Path(model_dir) / CODE_DIR
    path = code_dir / program
    if not path.is_file():
        return Hooks()
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location("inference", path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise ModelLoadError(
            f"code/{program} failed to import: {e}. The image has no network at run time, "
            "so every package your hooks import must be in the image"
        ) from e
    except Exception as e:
        raise ModelLoadError(f"code/{program} raised on import: {type(e).__name__}: {e}") from e
    found = {name: getattr(module, name, None) for name in HOOK_NAMES}
    for name, fn in found.items():
        if fn is not None and not callable(fn):
            raise ModelLoadError(f"code/{program}: {name} must be a function")
    names = [n for n, fn in found.items() if fn is not None]
    log.info("hooks loaded", extra={"fields": {"file": str(path), "hooks": names}})
    return Hooks(**found, source=str(path))


def find_model_file(model_dir: str) -> Path:
    """The model file to load from ``model_dir`` (the contract's rule); raises with what to
    put there."""
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelLoadError(
            f"model directory {model_dir} does not exist; SageMaker unpacks model.tar.gz "
            f"there (locally: mount your model folder with -v DIR:{CONTAINER_MODEL_DIR})"
        )
    try:
        return model_file(root)
    except ModelFileError as e:
        raise ModelLoadError(
            f"{e}. Save your fitted estimator or Pipeline with joblib.dump(model, "
            "'model.joblib') at the root of model.tar.gz, or define model_fn(model_dir) in "
            "code/inference.py"
        ) from None


def import_sklearn() -> None:
    """Import scikit-learn without the pandas import it makes on the way.

    ``sklearn.utils.fixes`` imports pandas when it is installed, but nothing reads that
    reference: scikit-learn looks pandas up in ``sys.modules`` when it checks an input.
    Hiding pandas for this one import saves about 0.3 s of start-up and 30 MiB for models
    that never see a DataFrame. Models fitted on DataFrames still get pandas: the server
    imports it for its first DataFrame, in the start-up prediction, before workers fork.
    """
    if "sklearn" not in sys.modules and "pandas" not in sys.modules:
        sys.modules["pandas"] = None  # type: ignore[assignment]  # import raises ImportError
        try:
            import sklearn.base  # noqa: F401
        finally:
            del sys.modules["pandas"]


def _load_joblib(path: Path) -> Any:
    import joblib
    import sklearn  # already imported, pandas hidden, by load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Copy-on-write maps of the file for an uncompressed joblib: the arrays stay in
            # the page cache, shared by every worker (and container) until one writes to
            # them, which stays private. A compressed file loads into memory as before.
            model = joblib.load(path, mmap_mode=MMAP_MODE)
        except (ModuleNotFoundError, AttributeError, ImportError) as e:
            in_main = model_errors.missing_in_main(str(e))
            if in_main is not None:
                raise ModelLoadError(f"{path.name}: " + model_errors.defined_in_main(
                    [f"{model_errors.MAIN_MODULE}.{in_main}"])) from e
            raise ModelLoadError(
                f"{path.name} needs code this image does not have ({type(e).__name__}: {e}); "
                f"the image has scikit-learn {sklearn.__version__}. Build the model its own "
                "image: `smkit env detect --model model.joblib` writes the python section "
                "(libraries and versions) for smkit.yaml, then `smkit build smkit.yaml`"
            ) from e
        except OSError as e:
            if "cannot open shared object file" not in str(e):
                raise ModelLoadError(f"{path.name} could not be read ({e})") from e
            raise ModelLoadError(
                f"{path.name} needs a system library the image lacks ({e}); the model's "
                "package expects it installed beside Python"
            ) from e
        except Exception as e:
            raise ModelLoadError(
                model_errors.not_loadable(path.name, f"{type(e).__name__}: {e}")) from e
    for w in caught:
        if type(w.message).__name__ == "InconsistentVersionWarning":
            log.warning(
                "model saved with another scikit-learn version than the image's "
                f"{sklearn.__version__}; predictions may differ: declare its version in the "
                f"spec's python section (smkit env detect) and serve it from its own "
                f"product image: {w.message}"
            )
    return model


def _load_skops(path: Path) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:
        raise ModelLoadError(f"{path.name} is not a readable skops file ({e})") from e
    trusted_file = path.parent / SKOPS_TRUSTED_FILE
    trusted = set()
    if trusted_file.is_file():
        trusted = {ln.strip() for ln in trusted_file.read_text().splitlines() if ln.strip()}
    # Types of the libraries in the image are trusted; anything else the seller must name.
    refused = [t for t in untrusted if t not in trusted and not t.startswith(_SKOPS_OWN)]
    if refused:
        raise ModelLoadError(
            f"{path.name} uses types skops does not trust by default: {', '.join(refused)}. "
            f"If you trust them, list them one per line in {SKOPS_TRUSTED_FILE} next to it"
        )
    try:
        return sio.load(path, trusted=untrusted)
    except Exception as e:
        raise ModelLoadError(f"{path.name} could not be loaded by skops ({e})") from e


def read_by_server(rel: str) -> bool:
    """True for files the server imports or loads; only those must be in the manifest.

    Anything else is never read (SageMaker's local mode, for one, leaves model.tar.gz
    beside the unpacked files).
    """
    return (
        rel.startswith(f"{CODE_DIR}/")
        or rel in MODEL_FILES
        or rel in SAMPLE_FILES
        or rel == SKOPS_TRUSTED_FILE
        or rel.endswith(MODEL_SUFFIXES)
    )


def verify_manifest(model_dir: str) -> str | None:
    """Check the model directory against its manifest.json; return a problem or None.

    No manifest means no check (a plain model directory still serves); a manifest that
    does not match means the artifact was altered after ``smkit package`` built it.
    """
    from smkit_contract import manifest

    if not (Path(model_dir) / manifest.FILENAME).is_file():
        log.warning("no manifest.json in the model directory: its integrity is not checked "
                    "(smkit package writes one)")
        return None
    try:
        problems = manifest.verify(
            Path(model_dir), ignore_unlisted=lambda rel: not read_by_server(rel)
        )
    except manifest.ManifestError as e:
        return f"manifest.json is not valid: {e}; rebuild the artifact with `smkit package`"
    if problems:
        return (
            "the model directory does not match manifest.json (tampered or incomplete): "
            + "; ".join(problems[:5]) + ". Rebuild the artifact with `smkit package`"
        )
    log.info("model files match manifest.json")
    return None


def schema_of(model: Any, signature: Signature | None = None) -> Schema:
    """How requests are decoded: by the stored signature, else as the fitted model says."""
    return columns.schema_for(model, signature)


def stored_signature(model_dir: str, model: Any) -> Signature | None:
    """The signature ``smkit package`` stored in manifest.json, checked against the model."""
    from smkit_contract import manifest

    if not (Path(model_dir) / manifest.FILENAME).is_file():
        return None
    try:
        data = manifest.read(Path(model_dir)).get("signature")
        signature = Signature.from_json(data) if data is not None else None
    except (manifest.ManifestError, SignatureError) as e:
        raise ModelLoadError(f"manifest.json: {e}; rebuild the artifact with `smkit package`"
                             ) from None
    if signature is None:
        return None
    width, names = columns.width_and_names(model)
    problem = widths_match(signature, width, names if signature.frame else None)
    if problem is not None:
        raise ModelLoadError(f"manifest.json: {problem}; rebuild the artifact with "
                             "`smkit package`")
    return signature


def find_sample(model_dir: str) -> tuple[bytes, str] | None:
    """The seller's sample input for the smoke prediction, with its content type."""
    for name, content_type in SAMPLE_FILES.items():
        path = Path(model_dir) / name
        if path.is_file():
            return path.read_bytes(), content_type
    return None


def load_model(model_dir: str, program: str = DEFAULT_PROGRAM) -> LoadedModel:
    """Load hooks and model; on failure return a not-ready model with the reason."""
    loaded = LoadedModel()
    try:
        if Path(model_dir).is_dir():
            # Before importing hooks or unpickling anything: both run the artifact's code.
            problem = verify_manifest(model_dir)
            if problem is not None:
                raise ModelLoadError(problem)
        import_sklearn()
        loaded.hooks = load_hooks(model_dir, program)
        if loaded.hooks.model_fn is not None:
            try:
                loaded.model = loaded.hooks.model_fn(model_dir)
            except Exception as e:
                raise ModelLoadError(
                    f"model_fn in code/{program} raised {type(e).__name__}: {e}"
                ) from e
            if loaded.model is None:
                raise ModelLoadError(f"model_fn in code/{program} returned None")
        else:
            path = find_model_file(model_dir)
            loaded.model = _load_skops(path) if path.suffix == ".skops" else _load_joblib(path)
            if not (hasattr(loaded.model, "predict") or loaded.hooks.predict_fn):
                raise ModelLoadError(
                    f"{path.name} holds a {type(loaded.model).__name__}, which has no "
                    "predict(); save a fitted estimator or Pipeline, or define predict_fn"
                )
    except ModelLoadError as e:
        loaded.reason = str(e)
        log.error("model not loaded: %s", e, exc_info=e.__cause__ is not None)
        return loaded
    try:
        signature = stored_signature(model_dir, loaded.model)
    except ModelLoadError as e:
        loaded.model = None  # not ready, and no start-up prediction to hide the reason
        loaded.reason = str(e)
        log.error("model not loaded: %s", e)
        return loaded
    loaded.schema = schema_of(loaded.model, signature)
    loaded.signature = signature
    classes = getattr(loaded.model, "classes_", None)
    loaded.classes = list(classes.tolist()) if isinstance(classes, np.ndarray) else None
    loaded.reason = "the model is loaded but its start-up prediction has not run"
    log.info(
        "model loaded",
        extra={
            "fields": {
                "type": type(loaded.model).__name__,
                "n_features": loaded.schema.n_features,
                "feature_names": list(loaded.schema.feature_names or ()) or None,
                "signature": "manifest" if signature is not None else "inferred",
                "kinds": list(loaded.schema.kinds or ()) or None,
                "classes": loaded.classes,
            }
        },
    )
    return loaded

