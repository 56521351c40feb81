"""The model directory (what ``model.tar.gz`` unpacks to): where it is, the names inside it,
and the rule for which file is the model.

The server looks for these and the seller tooling writes and checks them; both import them
from here so the two halves never disagree on a name or an order.
"""

from __future__ import annotations

from pathlib import Path

from . import content_types as ct

#: Where SageMaker unpacks ``model.tar.gz`` inside the container (``SMKIT_MODEL_DIR``
#: overrides it for the server); the seller tooling mounts a model folder here.
CONTAINER_MODEL_DIR = "/opt/ml/model"

#: Model file names tried in order when no ``model_fn`` hook is given. ``.skops`` files load
#: without unpickling arbitrary objects; the others are pickles, which run code when loaded.
MODEL_FILES: tuple[str, ...] = ("model.joblib", "model.skops", "model.pkl", "model.pickle")
#: The suffix of the one model file ``model_file`` accepts under any name.
ANY_NAME_SUFFIX = ".joblib"
#: Suffixes of files the server may load as a model (any single ``*.joblib`` is also tried).
MODEL_SUFFIXES: tuple[str, ...] = (".joblib", ".skops", ".pkl", ".pickle")
#: Extra types a seller trusts in ``model.skops``, one fully qualified name per line.
SKOPS_TRUSTED_FILE = "skops-trusted.txt"
#: Folder of the seller's hooks (``inference.py``) and any modules they import.
CODE_DIR = "code"
#: Default hooks file in ``CODE_DIR`` (``SAGEMAKER_PROGRAM`` overrides it).
DEFAULT_PROGRAM = "inference.py"
#: Sample inputs for the start-up smoke prediction, tried in this order, with their types.
SAMPLE_FILES: dict[str, str] = {
    f"sample_input{suffix}": ct.BY_SUFFIX[suffix] for suffix in (".csv", ".json", ".jsonl", ".npy")
}
#: The sample file name for each content type (the inverse of ``SAMPLE_FILES``).
SAMPLE_NAME_FOR: dict[str, str] = {t: name for name, t in SAMPLE_FILES.items()}


class ModelFileError(ValueError):
    """A model directory has no file ``model_file`` can pick; the message says what is there.

    Callers add what to do in their own terms (a hook, a command-line option).
    """


def model_file(model_dir: Path) -> Path:
    """The file the server loads as the model from ``model_dir``, by the one rule both
    halves use: the first of ``MODEL_FILES`` present, else the only ``*.joblib`` file.

    Raises ModelFileError naming what the folder holds when neither is there.
    """
    if not model_dir.is_dir():
        raise ModelFileError(f"{model_dir} is not a directory")
    for name in MODEL_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    candidates = sorted(p for p in model_dir.glob(f"*{ANY_NAME_SUFFIX}") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ModelFileError(
            f"{model_dir} has no model.joblib and {len(candidates)} *{ANY_NAME_SUFFIX} files "
            f"({', '.join(p.name for p in candidates[:10])}): name the model model.joblib"
        )
    present = ", ".join(sorted(p.name for p in model_dir.iterdir())[:10]) or "nothing"
    raise ModelFileError(f"{model_dir} has no model.joblib (found: {present})")
