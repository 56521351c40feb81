"""The seller's environment read from where they have it: another interpreter, or its files.

``smkit env detect`` maps the model's modules to distribution versions. By default those are
the versions installed beside smkit; this module reads them from elsewhere instead, without
installing anything there:

- :func:`ask_python`: another interpreter (any CPython 3.8 to 3.13), asked with the
  stdlib-only probe :mod:`smkit.image.env_probe`, run from its file with ``-I``;
- :func:`read_requirements`: ``requirements.txt`` or ``pip freeze`` output;
- :func:`read_uv_lock`, :func:`read_poetry_lock`: the lock files (TOML);
- :func:`read_conda_env`: a conda ``environment.yml`` (conda and pip dependencies);
- :func:`read_mlflow`: an MLflow model directory (``MLmodel``, ``requirements.txt``,
  ``python_env.yaml``, ``conda.yaml``, and which file is the model).

:func:`read_environment` looks at a path and picks the reader. Every reader returns an
:class:`Installed`; what it had to skip is in its ``notes``, said so that the seller knows
what to do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from smkit_contract.names import SKOPS_TRUSTED_FILE

from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.image import env_probe
from smkit.image.build import DEFAULT, PYTHON_VERSION, canonical_name
from smkit.project.spec import ImagePython, image_python_for

#: The probe, run from its file by the seller's interpreter.
PROBE_FILE = Path(env_probe.__file__)
PROBE_TIMEOUT_S = 120
#: The Pythons ``--python`` is meant for (the probe is written for them).
SUPPORTED_PYTHONS = "CPython 3.8 to 3.13"
#: Conda package names that differ from the PyPI distribution of the same code.
CONDA_TO_PYPI: dict[str, str] = {
    "py-xgboost": "xgboost", "py-xgboost-cpu": "xgboost", "py-lightgbm": "lightgbm",
    "pytorch": "torch", "msgpack-python": "msgpack", "py-opencv": "opencv-python",
}
#: Conda packages that are not Python distributions at all (the interpreter, compilers,
#: native libraries): they are named in a note, not pinned.
_CONDA_ONLY = re.compile(r"^(python|pip|_.*|lib.*|.*-mutex|ca-certificates|openssl|tk|xz|zlib"
                         r"|ncurses|readline|sqlite|bzip2|tzdata|ld_impl_.*|mkl.*|intel-openmp"
                         r"|blas|openblas|llvm-openmp|icu|expat|krb5|c-ares|zstd|lz4-c)$")
#: The MLflow model file formats smkit serves, by ``flavors.sklearn.serialization_format``.
MLFLOW_FORMATS = ("skops", "cloudpickle", "pickle")


@dataclass(frozen=True)
class Installed:
    """An environment's distribution versions, as read from an interpreter or a file."""

    #: What was read, for messages: ``requirements.txt``, ``/venv/bin/python (3.12.1)``.
    source: str
    #: Distribution name (as written) -> version.
    versions: dict[str, str]
    #: Top-level module -> the distributions that provide it; empty when read from a file
    #: (files name distributions, not modules).
    modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Distributions installed from a local path or a VCS (not on PyPI): name -> where.
    local: dict[str, str] = field(default_factory=dict)
    #: The Python version trained with, when the source says.
    python: str | None = None
    #: That Python's standard library module names (3.10+ interpreters say).
    stdlib: frozenset[str] | None = None
    #: What was skipped or could not be mapped, each with what to do.
    notes: tuple[str, ...] = ()
    #: The model file the source names (an MLflow model directory's ``pickled_model``).
    model: Path | None = None

    def version(self, name: str) -> str | None:
        """The version of distribution ``name`` (any spelling), if the source has it."""
        want = canonical_name(name)
        return next((v for n, v in self.versions.items() if canonical_name(n) == want), None)

    def _trained(self) -> tuple[int, int] | None:
        """The training interpreter's ``(major, minor)``, if known."""
        parts = [int(p) for p in re.findall(r"\d+", self.python or "")[:2]]
        return (parts[0], parts[1]) if len(parts) == 2 else None

    def image_python(self, source_needs_newer: bool = False) -> ImagePython | None:
        """The image Python to propose (``python.version``) instead of the default: the
        training interpreter's own when an image can run it; the nearest newer one (3.12 ->
        3.13) only when the seller's own source does not parse on the default (``
        source_needs_newer``), as older pins may have no wheel for it. Else None."""
        trained = self._trained()
        if trained is None or trained <= DEFAULT.major_minor:
            return None
        nearest = image_python_for(trained)
        if nearest is None or (nearest.major_minor != trained and not source_needs_newer):
            return None
        return nearest

    def python_problem(self, source_needs_newer: bool = False) -> str | None:
        """What the seller must know when they trained with another Python than the image's,
        with what to do; None when it is the same or unknown."""
        trained = self._trained()
        image = DEFAULT.major_minor
        if trained is None or trained == image:
            return None
        major_minor = ".".join(map(str, trained))
        proposed = self.image_python(source_needs_newer)
        if proposed is not None:
            nearest = ("" if proposed.version == major_minor else
                       f", the nearest to {major_minor} that Debian's own packages offer, "
                       f"as your own code does not parse on {PYTHON_VERSION}")
            return (f"the model was trained with Python {major_minor}: python.version "
                    f"\"{proposed.version}\" is proposed (Debian {proposed.suite}'s Python"
                    f"{nearest}); every pin needs a wheel for it, and `smkit env detect "
                    "--check` resolves the pins for the image before any build")
        newer = image_python_for(trained)
        if trained > image:
            offer = (f"; or set python.version: \"{newer.version}\" (Debian {newer.suite}'s "
                     f"Python) if your code needs a newer Python than {PYTHON_VERSION}"
                     if newer is not None else "")
            return (f"the model was trained with Python {major_minor} and the image runs "
                    f"Python {PYTHON_VERSION}: your own code (python.source) must run on "
                    f"{PYTHON_VERSION}, and every pin needs a wheel for it; `smkit env detect "
                    "--check` resolves the pins for the image before any build" + offer)
        return (f"the model was trained with Python {major_minor} and the image runs Python "
                f"{PYTHON_VERSION}: pins from before {PYTHON_VERSION} may have no wheel for it "
                "(e.g. scikit-learn older than 1.1.3, numpy older than 1.23.2); `smkit env "
                "detect --check` resolves the pins for the image before any build")


# --- another interpreter -----------------------------------------------------------------


def ask_python(python: Path) -> Installed:
    """What ``python`` (an interpreter, or a venv folder) has installed, from the probe."""
    exe = Path(python)
    if exe.is_dir():
        exe = next((exe / d / n for d in ("bin", "Scripts") for n in ("python", "python.exe")
                    if (exe / d / n).is_file()), exe / "bin" / "python")
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise UserError(f"--python {python}: no Python interpreter there; give the python of "
                        "the environment you trained in (e.g. /path/to/venv/bin/python, "
                        "or `python -c 'import sys; print(sys.executable)'` run there)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    try:
        proc = subprocess.run([str(exe), "-I", str(PROBE_FILE)], capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"--python {python}: the interpreter did not answer within "
                        f"{PROBE_TIMEOUT_S} s; check it starts (`{exe} -c pass`)") from None
    except OSError as e:
        raise UserError(f"--python {python}: cannot run it ({e.strerror}); give a "
                        f"{SUPPORTED_PYTHONS} interpreter") from None
    try:
        data = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("schema") != env_probe.SCHEMA:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"--python {python}: it could not run smkit's environment probe "
                        f"({tail}); smkit reads {SUPPORTED_PYTHONS} interpreters")
    notes = []
    if data.get("implementation") != "CPython":
        notes.append(f"{exe} is {data.get('implementation')}, not CPython: the image runs "
                     f"CPython {PYTHON_VERSION}, check your libraries load there")
    versions: dict[str, str] = {}
    modules: dict[str, list[str]] = {}
    local: dict[str, str] = {}
    for dist in data["distributions"]:
        name = dist["name"]
        versions[name] = dist["version"]
        for top in dist["top_level"]:
            modules.setdefault(top, []).append(name)
        where = _local_origin(dist.get("direct_url"))
        if where:
            local[name] = where
    stdlib = data.get("stdlib")
    return Installed(
        source=f"{exe} (Python {data['python']})", versions=versions,
        modules={m: tuple(d) for m, d in modules.items()}, local=local,
        python=data["python"], stdlib=frozenset(stdlib) if stdlib is not None else None,
        notes=tuple(notes))


def _local_origin(info: Any) -> str | None:
    """Where a distribution was installed from when that is not an index (PEP 610)."""
    if not isinstance(info, dict):
        return None
    url = str(info.get("url") or "")
    # A local folder or file, or a VCS checkout; an https archive may well be on PyPI too.
    return url if url.startswith("file:") or "vcs_info" in info else None


# --- requirements.txt and pip freeze -----------------------------------------------------


def read_requirements(path: Path) -> Installed:
    """``name==version`` pins from a requirements file or ``pip freeze`` output.

    Comments and blank lines are dropped; pip options (``-r``, ``--index-url``, ...) and
    editable installs (``-e``) are skipped with a note, and so are requirements that do not
    pin one version; ``name @ file://...`` (how ``pip freeze`` shows a local install) is a
    local distribution.
    """
    versions: dict[str, str] = {}
    local: dict[str, str] = {}
    notes: list[str] = []
    text = _read_text(path, "requirements file")
    _pip_lines(text.splitlines(), path.name, versions, local, notes)
    return Installed(source=path.name, versions=versions, local=local, notes=tuple(notes))


def _pip_lines(lines: list[str], where: str, versions: dict[str, str],
               local: dict[str, str], notes: list[str]) -> None:
    """Read pip requirement lines into ``versions``/``local``; note what is skipped."""
    for n, line in enumerate(lines, 1):
        text = re.split(r"(^|\s)#", line, maxsplit=1)[0].strip()
        if not text:
            continue
        if text.startswith(("-e", "--editable")):
            target = text.split(None, 1)[-1]
            notes.append(f"{where} line {n}: editable install {target} skipped: build a wheel "
                         "of it (pip wheel --no-deps <its source> -w wheels/) and list wheels/ "
                         "under python.wheels")
            continue
        if text.startswith("-"):
            notes.append(f"{where} line {n}: pip option {text.split()[0]} skipped (the build "
                         "is offline, from PyPI wheels and python.wheels)")
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            notes.append(f"{where} line {n}: {text!r} is not a pip requirement; skipped")
            continue
        if req.url:
            local[req.name] = req.url
            continue
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")
                and "*" not in s.version]
        if not pins:
            notes.append(f"{where} line {n}: {text} pins no version; skipped: write "
                         f"{req.name}==<the version you trained with>")
            continue
        versions[req.name] = pins[0]


# --- uv.lock and poetry.lock -------------------------------------------------------------


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(_read_text(path, what))
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not a valid {what} ({e}); regenerate it") from None


def _lock_packages(path: Path, what: str, packages: Any, is_local: Any
                   ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(versions, local, notes) from a lock file's ``[[package]]`` tables."""
    versions: dict[str, str] = {}
    local: dict[str, str] = {}
    notes: list[str] = []
    if not isinstance(packages, list) or not packages:
        raise UserError(f"{path}: no [[package]] entries; is it a {what}? regenerate it")
    for pkg in packages:
        if not isinstance(pkg, dict) or "name" not in pkg:
            continue
        name, version = str(pkg["name"]), pkg.get("version")
        where = is_local(pkg.get("source"))
        if where:
            local[name] = where
            continue
        if version is None:
            notes.append(f"{path.name}: {name} has no version; skipped")
            continue
        seen = versions.get(name)
        if seen is not None and seen != version:
            notes.append(f"{path.name}: {name} is locked at {seen} and {version} (for different "
                         f"platforms or Pythons); {seen} is used: check it is the one you "
                         "trained with")
            continue
        versions[name] = str(version)
    return versions, local, notes


def read_uv_lock(path: Path) -> Installed:
    """Package versions from a ``uv.lock``; the project itself (editable, virtual, a path or
    a git source) is a local distribution."""
    data = _read_toml(path, "uv.lock")

    def is_local(source: Any) -> str | None:
        if not isinstance(source, dict) or "registry" in source:
            return None
        kind = next(iter(source), "")
        return f"{kind}: {source[kind]}" if kind else None

    versions, local, notes = _lock_packages(path, "uv.lock", data.get("package"), is_local)
    return Installed(source=path.name, versions=versions, local=local, notes=tuple(notes))


def read_poetry_lock(path: Path) -> Installed:
    """Package versions from a ``poetry.lock``; directory, file and git sources are local."""
    data = _read_toml(path, "poetry.lock")

    def is_local(source: Any) -> str | None:
        if not isinstance(source, dict) or source.get("type") in (None, "legacy"):
            return None
        return f"{source.get('type')}: {source.get('url')}"

    versions, local, notes = _lock_packages(path, "poetry.lock", data.get("package"),
                                            is_local)
    return Installed(source=path.name, versions=versions, local=local, notes=tuple(notes))


# --- conda -------------------------------------------------------------------------------


def read_conda_env(path: Path) -> Installed:
    """Versions from a conda ``environment.yml`` (or MLflow's ``conda.yaml``).

    ``name=1.2.3`` and ``name==1.2.3`` (with a build string or a ``channel::`` prefix) are
    read under the PyPI name (:data:`CONDA_TO_PYPI` where it differs); the ``pip:`` list is
    read as requirement lines; ``python=3.x`` gives the Python version. Conda's own packages
    (the interpreter, native libraries) and unpinned ones are named in the notes.
    """
    data = load_yaml(path, what="conda environment file")
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        raise UserError(f"{path}: no dependencies list; is it a conda environment file "
                        "(conda env export --from-history > environment.yml)?")
    versions: dict[str, str] = {}
    local: dict[str, str] = {}
    notes: list[str] = []
    python = None
    conda_only: list[str] = []
    for dep in deps:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            _pip_lines([str(x) for x in dep["pip"]], f"{path.name} pip:", versions, local,
                       notes)
            continue
        m = re.fullmatch(r"(?:[\w.-]+::)?([A-Za-z0-9_.-]+)(.*)", str(dep).strip())
        if not m:
            notes.append(f"{path.name}: conda dependency {dep!r} is not a package; skipped")
            continue
        name = m.group(1)
        pinned = re.fullmatch(r"\s*(?:==?|\s)\s*([^=\s<>!~,*|]+)(?:[=\s].*)?", m.group(2))
        version = pinned.group(1) if pinned else None
        if name == "python":
            python = version
            continue
        if _CONDA_ONLY.match(name):
            conda_only.append(name)
            continue
        if not version:
            notes.append(f"{path.name}: conda dependency {dep} pins no version; skipped: "
                         f"write {name}=<the version you trained with>")
            continue
        versions.setdefault(CONDA_TO_PYPI.get(name, name), version)
    if conda_only:
        notes.append(f"{path.name}: conda's own packages {', '.join(sorted(conda_only))} are "
                     "not Python distributions; the image brings its own")
    return Installed(source=path.name, versions=versions, local=local, python=python,
                     notes=tuple(notes))


# --- MLflow ------------------------------------------------------------------------------


def read_mlflow(model_dir: Path) -> Installed:
    """An MLflow model directory: pins from ``requirements.txt`` (else ``conda.yaml``'s),
    the Python version from ``python_env.yaml`` (else ``MLmodel``), and the model file from
    the sklearn flavor (``model.skops`` in MLflow 3, a cloudpickled ``model.pkl`` before)."""
    mlmodel = load_yaml(model_dir / "MLmodel", what="MLflow MLmodel file")
    flavors = mlmodel.get("flavors") if isinstance(mlmodel, dict) else None
    if not isinstance(flavors, dict):
        raise UserError(f"{model_dir / 'MLmodel'}: no flavors; is it an MLflow model "
                        "directory? save the model with mlflow.sklearn.save_model")
    sklearn = flavors.get("sklearn")
    if not isinstance(sklearn, dict) or not sklearn.get("pickled_model"):
        raise UserError(
            f"{model_dir}: this MLflow model has no sklearn flavor (it has "
            f"{', '.join(sorted(flavors)) or 'none'}); smkit serves scikit-learn-compatible "
            "models: log it with mlflow.sklearn.log_model (or save_model)")
    fmt = str(sklearn.get("serialization_format") or "")
    model = model_dir / str(sklearn["pickled_model"])
    if fmt and fmt not in MLFLOW_FORMATS:
        raise UserError(f"{model_dir}: MLflow saved the model as {fmt!r}, which smkit does "
                        f"not read; save it with serialization_format one of "
                        f"{', '.join(MLFLOW_FORMATS)}")
    if not model.is_file():
        raise UserError(f"{model_dir}: MLmodel names the model file {model.name}, which is "
                        "not there; copy the whole MLflow model directory")
    pyfunc = flavors.get("python_function")
    python = pyfunc.get("python_version") if isinstance(pyfunc, dict) else None
    found = _mlflow_pins(model_dir)
    notes = list(found.notes)
    versions = dict(found.versions)
    trusted = sklearn.get("skops_trusted_types")
    if fmt == "skops" and trusted:
        notes.append(f"MLmodel trusts {', '.join(map(str, trusted))}: list them, one per "
                     f"line, in {SKOPS_TRUSTED_FILE} in {model_dir.name}/ so the server "
                     "trusts them too")
    recorded = sklearn.get("sklearn_version")
    if recorded and found.version("scikit-learn") is None:
        versions["scikit-learn"] = str(recorded)
        notes.append(f"scikit-learn=={recorded} comes from MLmodel (sklearn_version)")
    return Installed(source=f"{model_dir.name}/ (MLflow model)", versions=versions,
                     local=found.local, python=found.python or (str(python) if python else None),
                     notes=tuple(notes), model=model)


def _mlflow_pins(model_dir: Path) -> Installed:
    """The pins MLflow wrote beside the model: requirements.txt first, then conda.yaml."""
    python = None
    env_file = model_dir / "python_env.yaml"
    if env_file.is_file():
        data = load_yaml(env_file, what="MLflow python_env.yaml")
        if isinstance(data, dict) and data.get("python"):
            python = str(data["python"])
    requirements, conda = model_dir / "requirements.txt", model_dir / "conda.yaml"
    if requirements.is_file():
        found = read_requirements(requirements)
    elif conda.is_file():
        found = read_conda_env(conda)
    else:
        return Installed(source=model_dir.name, versions={}, python=python, notes=(
            f"{model_dir.name}: no requirements.txt or conda.yaml beside MLmodel; the versions "
            "are not known: give --python or --from with your training environment",))
    return Installed(source=found.source, versions=found.versions, local=found.local,
                     python=python or found.python, notes=found.notes)


# --- picking the reader ------------------------------------------------------------------


def is_mlflow_dir(path: Path) -> bool:
    """True when ``path`` is an MLflow model directory (it holds an ``MLmodel`` file)."""
    return (Path(path) / "MLmodel").is_file()


def read_environment(path: Path) -> Installed:
    """The versions in ``path``: an MLflow model directory (or its MLmodel), a uv.lock, a
    poetry.lock, a conda environment file (or python_env.yaml), else requirement lines."""
    path = Path(path)
    if path.is_dir():
        if is_mlflow_dir(path):
            return read_mlflow(path)
        raise UserError(f"--from {path}: a folder with no MLmodel; give the file itself "
                        "(requirements.txt, uv.lock, poetry.lock or environment.yml)")
    if not path.is_file():
        raise UserError(f"--from {path}: no such file; give requirements.txt, pip freeze "
                        "output, uv.lock, poetry.lock, environment.yml or an MLflow model "
                        "directory")
    if path.name == "MLmodel":
        return read_mlflow(path.parent)
    if path.name == "uv.lock":
        return read_uv_lock(path)
    if path.name == "poetry.lock":
        return read_poetry_lock(path)
    if path.name == "python_env.yaml":
        return _mlflow_pins(path.parent)
    if path.suffix in (".yml", ".yaml"):
        return read_conda_env(path)
    if path.suffix == ".lock":
        raise UserError(f"--from {path}: smkit reads uv.lock and poetry.lock; export other "
                        "locks as pinned requirements (name==version per line)")
    return read_requirements(path)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read the {what} ({e.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: the {what} is not UTF-8 text; save it as UTF-8 (pip freeze "
                        "in PowerShell writes UTF-16: use `pip freeze | Out-File -Encoding "
                        "utf8`)") from None
