"""File and folder names inside the model directory (what ``model.tar.gz`` unpacks to).

The server looks for these and the seller tooling writes and checks them; both import them
from here so the two halves never disagree on a name or an order.
"""

from __future__ import annotations

from . import content_types as ct

#: Model file names tried in order when no ``model_fn`` hook is given. ``.skops`` files load
#: without unpickling arbitrary objects; the others are pickles, which run code when loaded.
MODEL_FILES: tuple[str, ...] = ("model.joblib", "model.skops", "model.pkl", "model.pickle")
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
    "sample_input.csv": ct.CSV,
    "sample_input.json": ct.JSON,
    "sample_input.jsonl": ct.JSONLINES,
    "sample_input.npy": ct.NPY,
}
#: The sample file name for each content type (the inverse of ``SAMPLE_FILES``).
SAMPLE_NAME_FOR: dict[str, str] = {t: name for name, t in SAMPLE_FILES.items()}
