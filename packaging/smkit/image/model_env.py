"""The model's own Python environment, read from the model file (never loaded), for the seller.

``smkit env detect`` prints the spec's ``python:`` section from :func:`scan_for_seller`;
``smkit spec init --model`` writes it into the starter spec with :func:`starter_for_model`.
Both refuse a model with security findings unless the seller allows it.

The model file says which modules it needs; the versions come from smkit's own environment,
or, with an :class:`~smkit.image.env_files.Installed` (another interpreter, the seller's
files, an MLflow model directory), from there (:func:`with_environment`).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import sys
from _compat_pickle import IMPORT_MAPPING
from collections.abc import Callable
from pathlib import Path

from smkit.core.errors import UserError
from smkit.image import env_files
from smkit.image.build import DEFAULT, canonical_name
from smkit.image.env_files import Installed
from smkit.image.pickle_scan import (
    KNOWN_DISTRIBUTIONS,
    TOP_LEVEL_ALIASES,
    ModelScan,
    UnresolvedModule,
    recorded_version_mismatches,
    refuse_unservable,
    scan_model,
)
from smkit.project import spec_yaml


def environment_beside(model: Path) -> Installed | None:
    """The environment the seller keeps with the model, read when nothing else is given:
    an MLflow model directory (its ``MLmodel`` and pins), else a ``requirements.txt`` in
    the model's folder; None when there is neither."""
    model = Path(model)
    folder = model if model.is_dir() else model.parent
    if env_files.is_mlflow_dir(folder):
        return env_files.read_mlflow(folder)
    if (folder / "requirements.txt").is_file():
        return env_files.read_requirements(folder / "requirements.txt")
    return None


#: How to write the python section anyway for a model no image can load yet.
ALLOW_TODO_AFTER = ("(--allow-todo writes the python section anyway, with a TODO for it; "
                    "smkit package refuses the model until it is fixed)")


def scan_for_seller(model: Path, base_dir: Path, allow_unsafe: bool,
                    warn: Callable[[str], None], installed: Installed | None = None,
                    allow_todo: bool = False) -> ModelScan:
    """Scan ``model``, pass its warnings to ``warn``; refuse security findings (exit 2).

    The versions are ``installed``'s when given (see :func:`with_environment`), else smkit's
    own environment's. Security findings stop here unless ``allow_unsafe``: loading such a
    file runs whatever it names, so smkit will not describe an environment for it by default.
    """
    if installed is not None and installed.model is not None and (
            Path(model).is_dir() and Path(model).resolve() == installed.model.parent.resolve()):
        model = installed.model  # the MLflow directory's own model file
    scan = scan_model(model)
    if installed is not None:
        scan = with_environment(scan, installed)
    if not allow_todo:  # no python section can serve it: say so before anything else
        refuse_unservable(scan, ALLOW_TODO_AFTER)
    for line in scan.warnings(base_dir):
        warn(line)
    if scan.security_findings and not allow_unsafe:
        names = ", ".join(f"{f.module}.{f.name}" for f in scan.security_findings[:5])
        raise UserError(
            f"{scan.path}: {len(scan.security_findings)} security finding(s) ({names}): "
            "loading this file would run them, and no model needs them: do not sell this "
            "file. If you made it yourself and trust it, rerun with --allow-unsafe")
    return scan


def starter_for_model(model: Path, spec_path: Path, warn: Callable[[str], None],
                      allow_unsafe: bool = False, installed: Installed | None = None,
                      allow_todo: bool = False) -> str:
    """The starter spec with its python section (and model_dir) filled in from ``model``;
    the versions are ``installed``'s when given (see :func:`scan_for_seller`)."""
    base_dir = spec_path.resolve().parent
    scan = scan_for_seller(model, base_dir, allow_unsafe, warn, installed, allow_todo)
    lines = spec_yaml.STARTER.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("# python:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("#   "):
        end += 1
    lines[start:end] = [scan.python_yaml(base_dir)]
    text = "".join(lines)
    model_dir = Path(model) if Path(model).is_dir() else Path(model).parent
    rel = _relative(model_dir, base_dir)
    if rel != "model":
        text = re.sub(r"^model_dir: model(\s)", lambda m: f"model_dir: {json.dumps(rel)}"
                      + m.group(1), text, count=1, flags=re.MULTILINE)
    return text


def _relative(path: Path, base_dir: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base_dir)
    except ValueError:
        return str(path.resolve())


def with_environment(scan: ModelScan, installed: Installed,
                     search_path: list[str] | None = None) -> ModelScan:
    """``scan`` with its distributions and versions taken from ``installed`` instead of
    smkit's own environment: the model's modules are mapped to ``installed``'s distributions
    (by its module table when an interpreter was asked; by name when a file was read), and
    the scikit-learn version the model records still wins. What ``installed`` lacks is left
    for the seller, as when a module is not installed here.
    """
    stdlib = installed.stdlib or frozenset(sys.stdlib_module_names)
    by_top: dict[str, list[str]] = {}
    for module in scan.modules:
        top = IMPORT_MAPPING.get(module, module).split(".")[0]
        top = TOP_LEVEL_ALIASES.get(top, top)
        by_top.setdefault(top, []).append(module)
    own = {u.module: u for u in scan.unresolved_modules}
    dists: dict[str, tuple[str, tuple[str, ...]]] = {}
    local: dict[str, str] = {}
    unresolved: list[UnresolvedModule] = []
    notes = [f"versions read from {installed.source}", *installed.notes]
    for top, mods in sorted(by_top.items()):
        if top in stdlib or top in sys.stdlib_module_names or top == "__builtin__":
            continue
        owners = _owners(top, installed)
        if not owners and not installed.modules and top in KNOWN_DISTRIBUTIONS:
            # A file lists what its tool chose to pin (MLflow leaves numpy out): the build
            # picks a version that fits the others, which the seller may want to fix.
            notes.append(f"{KNOWN_DISTRIBUTIONS[top]} is not pinned in {installed.source}; "
                         "the build picks a version that fits the other pins: add "
                         f"{KNOWN_DISTRIBUTIONS[top]}==<the version you trained with> to "
                         "python.packages to be sure")
            continue
        if not owners:
            asked = tuple(f"{m}.{n}" for m, n in scan.globals if m in mods)
            unresolved.append(own.get(top) or UnresolvedModule(
                top, asked, None, KNOWN_DISTRIBUTIONS.get(top)))
            continue
        for name in owners:
            if name in installed.local:
                local[name] = installed.local[name]
                continue
            seen = dists.get(name, (installed.versions[name], ()))[1]
            dists[name] = (installed.versions[name], tuple(sorted({*seen, *mods})))
    loader = "skops" if scan.path.suffix == ".skops" else "joblib"
    if not any(canonical_name(d) == loader for d in [*dists, *local]) and not any(
            u.module == loader for u in unresolved):
        version = installed.version(loader)
        if version is not None:
            dists[loader] = (version, ())
            notes.append(f"{loader} is listed because the server loads {scan.path.name} "
                         "with it")
        elif installed.modules:
            notes.append(f"{loader} is not installed in {installed.source}; add "
                         f"{loader}==<version> to python.packages (the server loads the model "
                         "with it)")
        else:
            notes.append(f"{loader} is not pinned in {installed.source}; the build adds a "
                         "version that fits the other pins (the server loads the model with "
                         "it)")
    dists = {("scikit-learn" if canonical_name(d) == "scikit-learn" else d): v
             for d, v in dists.items()}
    versions = list(scan.sklearn_versions)
    sklearn = {v: {"the estimators"} for v in versions}
    where = f"{'installed' if installed.modules else 'pinned'} in {installed.source}"
    mismatches = recorded_version_mismatches(dists, versions, scan.modules, notes, sklearn,
                                             where)
    unresolved = [u for u in unresolved if not (u.module == "sklearn" and "scikit-learn" in dists)]
    newer = _source_needs_newer_python([u.origin for u in unresolved if u.origin])
    problem = installed.python_problem(newer)
    if problem:
        notes.append(problem)
    requirements = tuple(sorted((f"{d}=={v}" for d, (v, _) in dists.items()), key=str.lower))
    proposed = installed.image_python(newer)
    return dataclasses.replace(
        scan, requirements=requirements, distributions=dists,
        unresolved_modules=tuple(unresolved), mismatches=tuple(mismatches),
        notes=tuple(notes), local_distributions=local,
        python_version=proposed.version if proposed else None)


def _source_needs_newer_python(origins: list[Path]) -> bool:
    """Whether any of the seller's own ``.py`` files (or packages' modules) does not parse
    with the default image's grammar (``type`` statements, PEP 695 generics, ...)."""
    files = [f for o in origins for f in ([o] if o.is_file() else sorted(o.rglob("*.py")))]
    for path in files:
        try:
            ast.parse(path.read_bytes(), str(path), feature_version=DEFAULT.major_minor)
        except SyntaxError:
            return True
        except (OSError, ValueError):
            continue
    return False


def _owners(top: str, installed: Installed) -> list[str]:
    """The distributions of ``installed`` that provide module ``top``."""
    known = {*installed.versions, *installed.local}
    if installed.modules:
        return [d for d in dict.fromkeys(installed.modules.get(top, ())) if d in known]
    # A file names distributions only: the module's own name, the well-known distribution
    # of it, or one distribution named after it (xgboost-cpu for xgboost).
    by_canonical = {canonical_name(d): d for d in known}
    for guess in (top, KNOWN_DISTRIBUTIONS.get(top, top)):
        if canonical_name(guess) in by_canonical:
            return [by_canonical[canonical_name(guess)]]
    prefixed = [d for c, d in by_canonical.items() if c.startswith(canonical_name(top) + "-")]
    return prefixed if len(prefixed) == 1 else []
