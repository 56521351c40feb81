"""The spec file, ``smkit.yaml``: read and validated into a :class:`~smkit.project.spec.Spec`,
with its relative paths resolved, and the starter one ``smkit spec init`` writes.

Every problem becomes one UserError that starts with where the spec came from and names the
field.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.project.spec import PythonEnv, Spec

#: The starter spec (package data: ``templates/smkit.yaml``), every field with a comment.
STARTER = files("smkit.project").joinpath("templates", "smkit.yaml").read_text(encoding="utf-8")


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_error(err: Any) -> str:
    loc = _format_loc(tuple(err["loc"]))
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = "unknown field; check its spelling (see `smkit spec init` for every field)"
    elif err["type"] == "missing":
        msg = "is required"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, "):]
    return f"{loc}: {msg}" if loc else msg


def parse(data: Any, base_dir: Path, source: str = "spec") -> Spec:
    """Validate a spec dict; resolve its paths against ``base_dir``. Raises UserError."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: must be a YAML mapping of fields (see `smkit spec init`)")
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        msgs = [_format_error(err) for err in e.errors()]
        raise UserError(f"{source}: " + "; ".join(msgs)) from None
    resolved = spec.model_copy(update={
        "model_dir": (base_dir / spec.model_dir).resolve(),
        "output_dir": (base_dir / spec.output_dir).resolve(),
        "validation": spec.validation.model_copy(
            update={"input": (base_dir / spec.validation.input).resolve()}
        ),
    })
    py = spec.python
    if py.declared:
        resolved = resolved.model_copy(update={"python": py.model_copy(update={
            "requirements": (base_dir / py.requirements).resolve() if py.requirements else None,
            "wheels": [(base_dir / w).resolve() for w in py.wheels],
            "source": [(base_dir / p).resolve() for p in py.source],
        })})
        _check_python_paths(resolved.python, source)
    if not resolved.model_dir.is_dir():
        raise UserError(f"{source}: model_dir: {resolved.model_dir} is not a directory; point "
                        "it at the folder holding model.joblib")
    if not resolved.validation.input.is_file():
        raise UserError(f"{source}: validation.input: {resolved.validation.input} does not "
                        "exist; give a file of sample records (buyers can see it)")
    return resolved


def _check_python_paths(py: PythonEnv, source: str) -> None:
    """Every file the python section names exists, and is of the right kind."""
    if py.requirements is not None and not py.requirements.is_file():
        raise UserError(f"{source}: python.requirements: {py.requirements} does not exist")
    for i, wheel in enumerate(py.wheels):
        if wheel.is_dir():
            if not any(wheel.glob("*.whl")):
                raise UserError(f"{source}: python.wheels[{i}]: {wheel} holds no .whl files")
        elif not (wheel.is_file() and wheel.suffix == ".whl"):
            raise UserError(f"{source}: python.wheels[{i}]: {wheel} is not a .whl file or a "
                            "folder of them")
    for i, src in enumerate(py.source):
        if not (src.is_dir() or (src.is_file() and src.suffix == ".py")):
            raise UserError(f"{source}: python.source[{i}]: {src} is not a folder or a .py "
                            "file; list the code your model's classes are defined in")
    py.all_requirements()  # reads and checks the requirements file now, not at build time


def load(path: Path) -> Spec:
    """Read and validate the spec file at ``path`` (relative paths are relative to it)."""
    path = Path(path)
    data = load_yaml(path, what="spec file", missing="create one with `smkit spec init`")
    return parse(data, path.parent, source=str(path))
