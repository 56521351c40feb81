"""The one way smkit reads a YAML file the user wrote, and the one way it says why it cannot.

Every message names the file first, then what is wrong and the fix: ``<what> <path> does not
exist; <fix>``, ``<what> <path> cannot be read (<reason>); check ...``, or ``<what> <path> is
not valid YAML at line L, column C: <problem>; fix the YAML there``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from smkit.core.errors import UserError


def load_yaml(path: Path | str, *, what: str, missing: str = "check the path") -> Any:
    """The data in the YAML file at ``path``; UserError naming it on any failure.

    ``what`` says which file it is (``spec file``, ``listing file``, ``--listing``);
    ``missing`` is the advice when the file does not exist. An empty file gives None.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist; {missing}") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise UserError(f"{what} {path} cannot be read ({reason}); check that it is a "
                        "UTF-8 text file you may read") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{what} {path} is not valid YAML{_where(e)}; fix the YAML "
                        "there") from None


def _where(err: yaml.YAMLError) -> str:
    """`` at line L, column C: <problem>`` from PyYAML's marks (1-based), as far as known."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {f'{context}, ' if context else ''}{problem}"
