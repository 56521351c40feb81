"""What is said about a model file that cannot be served, worded once for both halves.

The host's pickle scan finds these before anything is built or run, and the server meets
them when it loads the file; both say the same cause and fix on the first line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The module a class defined in the script or notebook that pickled it belongs to.
MAIN_MODULE = "__main__"
#: pickle's message for a class the loading program's ``__main__`` lacks (the server's
#: ``__main__`` is ``smkit_serve.__main__``, a worker's may be gunicorn's).
_MISSING_IN_MAIN = re.compile(r"Can't get attribute '([^']+)' on <module '(?:[\w.]+\.)?__main__'")


def defined_in_main(used: Sequence[str]) -> str:
    """The cause and fix for a model that references classes or functions of ``__main__``
    (``used``: what it asks for, e.g. ``__main__.LogDistance``)."""
    names = ", ".join(used[:3]) + (", ..." if len(used) > 3 else "")
    return (f"{names} was defined in the script or notebook that saved the model "
            "(__main__), where no server can import it from: move it into a module (e.g. "
            "features.py), import it from there, save the model again and list that file "
            "under python.source")


def missing_in_main(error: str) -> str | None:
    """The name pickle could not find in ``__main__``, from its error message, if that is it."""
    found = _MISSING_IN_MAIN.search(error)
    return found.group(1) if found else None


def not_loadable(model_name: str, why: str) -> str:
    """The cause and fix for a model file that is truncated, corrupt or not a pickle."""
    return (f"{model_name} is not a loadable joblib file ({why}); it may be truncated or "
            "corrupt: save the model again with joblib.dump(model, 'model.joblib')")


def newer_protocol(model_name: str, protocol: int, highest: int, python: str) -> str:
    """The cause and fix for a pickle written with a protocol the image's Python cannot read."""
    return (f"{model_name} uses pickle protocol {protocol}, but the image's Python {python} "
            f"reads protocols up to {highest}: save it again with "
            f"joblib.dump(model, 'model.joblib', protocol={highest})")


def missing_stdlib(model_name: str, modules: Sequence[str], python: str) -> str:
    """The cause and fix for a pickle that names standard modules the image's Python lacks."""
    return (f"{model_name} references {', '.join(modules)}, which Python {python} (the "
            "image's) does not have: it was pickled by a newer Python; convert those objects "
            "to plain types (e.g. str for a path) before saving, or train and save with "
            f"Python {python}")
