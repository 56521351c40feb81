"""``smkit package``: a deterministic ``model.tar.gz`` with a manifest, proven in the image.

Same input, same bytes: entries are sorted, owners, modes and mtimes fixed, and the gzip
header carries no time or name. Before anything is uploaded the model's pickled
scikit-learn version is compared with the image's, and the tarball's own bytes are unpacked
and served by the actual image (``--network none``) to predict the validation sample.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smkit_contract.content_types as ct
import smkit_contract.describe as exchange
import smkit_contract.limits as limits
import smkit_contract.manifest as mf
import smkit_contract.names as names

from smkit import __version__
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker, pickle_scan
from smkit.project.labeled import labeled_input
from smkit.project.spec import Spec

#: Fixed metadata of every tar entry (2000-01-01T00:00:00Z; 0 upsets some extractors).
MTIME = 946684800
FILE_MODE = 0o644
#: Never packed: caches and VCS metadata; manifest.json is always regenerated.
SKIP_NAMES = frozenset({"__pycache__", ".git", ".DS_Store", ".ipynb_checkpoints", mf.FILENAME})
#: The in-image proof sends at most this many records of the validation input.
PROOF_RECORDS = 200
#: The backstop on ``describe``: the image itself gives up on a hanging model (loading
#: within the start-up limit, predicting within the request limit) and names the hang.
DESCRIBE_SECONDS = limits.STARTUP_LIMIT_SECONDS + limits.INVOCATION_LIMIT_SECONDS + 30

@dataclass
class Artifact:
    """A built ``model.tar.gz`` and what it holds."""

    path: Path
    sha256: str
    size: int
    manifest: dict[str, Any]
    build_seconds: float
    #: Seconds the image took to answer /ping with this artifact (None when not proven).
    startup_seconds: float | None = None
    proof_seconds: float | None = None
    #: What deriving the input signature found worth the seller's attention.
    signature_notes: list[str] = field(default_factory=list)


#: Versions the manifest states by name (the rest go under ``packages``).
_NAMED = ("scikit-learn", "numpy", "joblib", "scipy", "pandas")


@functools.lru_cache(maxsize=8)
def image_versions(image: str) -> dict[str, Any]:
    """Python, smkit and package versions inside ``image`` (from its versions.json)."""
    if not docker.image_exists(image):
        raise UserError(f"image {image} is not built; run `make build-container` (or `smkit "
                        "build SPEC` for a spec with a python section)")
    proc = docker.docker("run", "--rm", "--network", "none", "--label", docker.LABEL,
                         "--entrypoint", "cat", image, exchange.VERSIONS_FILE, timeout=120,
                         check=False)
    try:
        data = exchange.ImageVersions.from_json(json.loads(proc.stdout.decode()))
    except ValueError as e:  # not JSON, or not versions (ExchangeError)
        raise UserError(f"{image} has no readable {exchange.VERSIONS_FILE}; it was not built "
                        "by smkit: rebuild it with `make build-container` or `smkit build "
                        "SPEC`") from e
    packages = data.packages
    versions: dict[str, Any] = {"python": data.python, "smkit": data.smkit or __version__}
    versions.update({k: packages[k] for k in _NAMED if k in packages})
    versions["packages"] = packages
    return versions


def model_file(model_dir: Path) -> Path:
    """The model file the server will load (the contract's rule, as the server applies it)."""
    try:
        return names.model_file(model_dir)
    except names.ModelFileError as e:
        raise UserError(f"model_dir: {e}; save the fitted estimator or Pipeline with "
                        "joblib.dump(model, 'model.joblib')") from None


def check_model(model_dir: Path) -> None:
    """Refuse, before any image runs, a model file no image can load: unreadable, truncated,
    a newer pickle protocol, a class from ``__main__`` (the pickle scan, nothing loaded).

    Nothing to check without a model file (``code/`` may load the model): whoever needs the
    file says so.
    """
    try:
        path = names.model_file(model_dir)
    except names.ModelFileError:
        return
    pickle_scan.check_servable(path)


def inspect_model(model_dir: Path, image: str,
                  sample: tuple[bytes, str] | None = None,
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load the model inside ``image`` (``--network none``) and describe it.

    The image that will serve the model is the one that loads it, so the host needs none of
    the seller's libraries. Refuses a pickle whose scikit-learn version differs from the
    image's, and names a module the pickle needs that the image lacks. With ``sample``
    (records and their content type) the image also derives the input signature from them
    and the model, applies the seller's ``overrides`` and proves it with a prediction; the
    result then holds ``signature`` and ``signature_notes``.
    """
    path = model_file(model_dir)
    out = _describe_in_image(model_dir, path, image, sample, overrides)
    model = _servable_model(out, model_dir, path, image)
    info: dict[str, Any] = {"type": model.type, "task": model.task,
                            "n_features": model.n_features,
                            "feature_names": model.feature_names, "classes": model.classes}
    derived = out.derivation or exchange.Derivation()
    notes = list(derived.notes)
    if derived.error is not None:
        where = "signature" if overrides else "validation.input"
        info["signature_error"] = (
            f"{where}: the input signature could not be proven in {image}: "
            f"{derived.error}" + "".join(f"\n  note: {n}" for n in notes)
        )
    else:
        info["signature"] = derived.signature.to_json() if derived.signature else None
    info["signature_notes"] = notes
    return info


def _describe_in_image(model_dir: Path, path: Path, image: str,
                       sample: tuple[bytes, str] | None,
                       overrides: dict[str, Any] | None) -> exchange.Description:
    """Run ``IMAGE describe`` on the model folder (and the sample, when given)."""
    mounts = ["-v", f"{model_dir.resolve()}:{names.CONTAINER_MODEL_DIR}:ro"]
    tmp: Path | None = None
    if sample is not None:
        tmp = Path(tempfile.mkdtemp(prefix="smkit-signature-"))
        (tmp / exchange.SAMPLE_FILE).write_bytes(sample[0])
        (tmp / exchange.CONTENT_TYPE_FILE).write_text(sample[1])
        (tmp / exchange.OVERRIDES_FILE).write_text(json.dumps(overrides or {}))
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
        mounts += ["-v", f"{tmp}:{exchange.INPUT_DIR}:ro"]
    name = f"smkit-describe-{uuid.uuid4().hex[:12]}"
    try:
        proc = docker.docker("run", "--rm", "--name", name, "--network", "none", "--label",
                             docker.LABEL, *mounts, image, "describe",
                             timeout=DESCRIBE_SECONDS, check=False)
    except PlatformError:  # the CLI gave up; the container may still be running
        log = docker.docker("logs", "--tail", "20", name, check=False, timeout=30)
        docker.docker("rm", "-f", name, check=False, timeout=60)
        tail = (log.stdout + log.stderr).decode(errors="replace")[-1500:]
        raise UserError(
            f"model_dir: {path.name} did not load and predict the validation sample in "
            f"{image} within {DESCRIBE_SECONDS} s: the model hangs (a native thread pool "
            "started before a fork, or predict waiting on something). Container log tail:\n"
            + tail) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    try:
        printed = json.loads(proc.stdout.decode())
    except ValueError:
        raise PlatformError(f"{image} could not describe the model: "
                            f"{proc.stderr.decode(errors='replace')[-1500:]}") from None
    try:
        return exchange.Description.from_json(printed)
    except exchange.ExchangeError as e:
        raise UserError(f"{image}: {e}") from None


def _servable_model(out: exchange.Description, model_dir: Path, path: Path,
                    image: str) -> exchange.ModelFacts:
    """The described model, or a UserError naming why the image cannot serve it."""
    image_sklearn = out.versions.packages.get("scikit-learn", "none")
    if out.missing_module is not None:
        module = out.missing_module
        raise UserError(
            f"model_dir: {path.name} needs the module {module!r}, which {image} does not "
            f"have: if it is your own code, add the file or folder that defines it to "
            f"python.source in the spec; if it is a library, add it to python.packages "
            f"(`smkit env detect --model {path}` lists what the pickle needs)"
        )
    if out.error is not None or out.model is None:
        raise UserError(f"model_dir: {path.name} cannot be loaded in {image}: {out.error}")
    wrong = [v for v in out.pickled_sklearn if v != image_sklearn]
    if wrong:
        raise UserError(
            f"model_dir: {path.name} was saved with scikit-learn {', '.join(wrong)} but the "
            f"image serves scikit-learn {image_sklearn}; pickles are not portable across "
            f"versions: declare scikit-learn=={wrong[0]} under python.packages in the spec "
            "(`smkit env detect --model` writes the section) and smkit builds the image "
            "with it"
        )
    model = out.model
    if not model.has_predict and not (model_dir / names.CODE_DIR).is_dir():
        raise UserError(f"model_dir: {path.name} holds a {model.type}, which has no "
                        "predict(); save a fitted estimator or Pipeline")
    return model


#: At most this much of the validation input is sent to derive the signature.
SIGNATURE_SAMPLE_BYTES = 16 * 1024 * 1024


def signature_sample(spec: Spec, contents: dict[str, bytes], data: bytes,
                     recs: list[bytes]) -> tuple[bytes, str]:
    """The records the signature is derived from: the validation input (``data``, split
    into ``recs``; its first ``PROOF_RECORDS`` records when it splits by line), else the
    model's sample_input."""
    v = spec.validation
    if v.split_type == "Line":
        return b"\n".join(recs[:PROOF_RECORDS]), v.content_type
    if len(data) <= SIGNATURE_SAMPLE_BYTES:
        return data, v.content_type
    for name, content_type in names.SAMPLE_FILES.items():
        if name in contents:
            return contents[name], content_type
    raise UserError(f"validation.input: {v.input} is over {SIGNATURE_SAMPLE_BYTES // 2**20} "
                    "MB and not split by line; add a sample_input.csv (a few typical records) "
                    "to model_dir so the input signature can be derived from it")


def collect(model_dir: Path) -> list[str]:
    """Relative paths of the files to pack from ``model_dir``, sorted."""
    out = []
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir)
        if any(part in SKIP_NAMES for part in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise UserError(f"model_dir: {rel} is a symlink; copy the file in instead")
        if path.is_file():
            out.append(rel.as_posix())
    return out


def records(data: bytes, spec: Spec) -> list[bytes]:
    """The validation input's records (lines for split_type Line, else the whole file)."""
    if spec.validation.split_type == "Line":
        return [line for line in data.splitlines() if line.strip()]
    return [data]


def sample_from_validation(spec: Spec, recs: list[bytes]) -> tuple[str, bytes] | None:
    """A one-record ``sample_input.*`` for the server's start-up check, from the validation
    input's records (``recs``, never empty here)."""
    v = spec.validation
    if v.split_type == "Line" or len(recs[0]) <= 1024 * 1024:
        return names.SAMPLE_NAME_FOR[v.content_type], recs[0]
    return None


def check_validation_width(spec: Spec, n_features: int | None, recs: list[bytes]) -> None:
    """Every CSV validation record (``recs``) has the model's number of columns; the first
    that does not is named (a labeled file given as the input is the usual cause)."""
    v = spec.validation
    if n_features is None or v.content_type != ct.CSV or v.split_type != "Line":
        return
    for n, rec in enumerate(recs, 1):
        width = len(next(csv.reader([rec.decode("utf-8", errors="replace")]), []))
        if width == n_features:
            continue
        hint = " " + labeled_input("validation.input") if width == n_features + 1 else ""
        raise UserError(f"validation.input: record {n} of {v.input.name} has {width} columns; "
                        f"the model takes {n_features}.{hint}")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = MTIME
    info.mode = FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_tarball(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relpath -> bytes) as a deterministic gzip'd tar at ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for name in sorted(files):
            _add(tar, name, files[name])
    tmp.replace(out)


def build(spec: Spec, *, out: Path | None = None) -> Artifact:
    """Build ``model.tar.gz`` (with ``manifest.json``) from the spec's model directory."""
    t0 = time.monotonic()
    check_model(spec.model_dir)
    versions = dict(image_versions(spec.image.local))
    versions["smkit"] = __version__
    # The validation input, read once: checked, sampled and measured against the model.
    data = spec.validation.input.read_bytes()
    recs = records(data, spec)
    if not recs:
        raise UserError(f"validation.input: {spec.validation.input} holds no records")
    rels = collect(spec.model_dir)
    contents = {rel: (spec.model_dir / rel).read_bytes() for rel in rels}
    model_info = inspect_model(spec.model_dir, spec.image.local,
                               signature_sample(spec, contents, data, recs), spec.signature)
    signature = model_info.pop("signature", None)
    notes = model_info.pop("signature_notes", [])
    problem = model_info.pop("signature_error", None)
    check_validation_width(spec, model_info.get("n_features"), recs)
    if problem is not None:
        raise UserError(problem)
    sample_name = next((n for n in names.SAMPLE_FILES if n in contents), None)
    if sample_name is None:
        derived = sample_from_validation(spec, recs)
        if derived is not None:
            sample_name, contents[derived[0]] = derived
    entries = {rel: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
               for rel, b in contents.items()}
    image_uri = spec.image.uri or spec.image.local
    digest = image_uri.split("@", 1)[1] if "@" in image_uri else None
    manifest = mf.build(entries, versions, image_uri, digest, model_info, sample_name,
                        signature)
    contents[mf.FILENAME] = mf.dumps(manifest)
    path = out or spec.output_dir / spec.name / "model.tar.gz"
    write_tarball(path, contents)
    data = path.read_bytes()
    return Artifact(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    manifest=manifest, build_seconds=time.monotonic() - t0,
                    signature_notes=notes)


def unpack(tarball: Path, dest: Path) -> None:
    """Extract like SageMaker does, refusing anything outside ``dest`` (tarfile data filter)."""
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(dest, filter="data")


def _not_a_model(model: Path) -> UserError:
    return UserError(f"{model} is neither a model directory nor a model.tar.gz")


@contextmanager
def model_directory(model: Path) -> Iterator[Path]:
    """A model directory from a directory (as is) or a model.tar.gz (unpacked to a temp dir)."""
    model = Path(model)
    if model.is_dir():
        yield model
        return
    if not model.is_file() or not tarfile.is_tarfile(model):
        raise _not_a_model(model)
    with tempfile.TemporaryDirectory(prefix="smkit-model-") as tmp:
        with tarfile.open(model) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def prove(artifact: Artifact, spec: Spec) -> Artifact:
    """Unpack the artifact and have the actual image predict the validation sample.

    Runs with ``--network none`` as buyers do. Raises UserError with the server's answer
    and log when it does not start or does not return one record per input record.
    """
    t0 = time.monotonic()
    v = spec.validation
    recs = records(v.input.read_bytes(), spec)[:PROOF_RECORDS]
    body = b"\n".join(recs) if v.split_type == "Line" else recs[0]
    accept = v.accept or spec.response_types[0]
    tmp = Path(tempfile.mkdtemp(prefix="smkit-prove-"))
    try:
        model_dir = tmp / "model"
        unpack(artifact.path, model_dir)
        problems = mf.verify(model_dir)
        if problems:
            raise PlatformError(f"{artifact.path} does not match its manifest: {problems}")
        model_dir.chmod(0o755)
        with docker.serve(spec.image.local, model_dir, env=spec.environment, network="none",
                          startup_timeout=240) as server:
            artifact.startup_seconds = server.ready_after
            # Longer than the server's own limit, so a hung model answers with its reason.
            wait = limits.INVOCATION_LIMIT_SECONDS + 30
            try:
                status, _headers, out = server.request_inside(
                    "POST", "/invocations", body, {"Content-Type": v.content_type,
                                                   "Accept": accept}, timeout=wait)
            except (PlatformError, ValueError):
                raise UserError(
                    f"validation.input: the image gave no answer to the first {len(recs)} "
                    f"validation record(s) within {wait} s: the model hangs while predicting "
                    "(a native thread pool started before the workers forked is the usual "
                    "cause). Container log tail:\n" + server.logs()[-1500:]) from None
            if status != 200:
                raise UserError(
                    f"validation.input: the image answered {status} to the first "
                    f"{len(recs)} validation record(s): {out[:500].decode(errors='replace')}. "
                    f"Container log tail:\n{server.logs()[-1500:]}"
                )
            if v.split_type == "Line" and accept in (ct.CSV, ct.JSONLINES):
                got = len(out.splitlines())
                if got != len(recs):
                    raise UserError(f"validation.input: the image returned {got} records for "
                                    f"{len(recs)} inputs; it must return one per record")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    artifact.proof_seconds = time.monotonic() - t0
    return artifact


def package(spec: Spec, *, verify: bool = True, out: Path | None = None) -> Artifact:
    """Build the artifact and (unless ``verify`` is False) prove it in the image."""
    artifact = build(spec, out=out)
    return prove(artifact, spec) if verify else artifact


def make_tarball(model: Path, folder: Path) -> Path:
    """Write ``folder/model.tar.gz`` from a model directory, or copy a given tarball there.

    The input of a local run (SDK local mode), taken as is: no manifest, not the
    deterministic :func:`build`. The folder must be the tarball's own: the SDK unpacks it
    next to itself.
    """
    model = Path(model)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.tar.gz"
    if model.is_dir():
        if not (model / names.CODE_DIR).is_dir():  # else model_fn may load the model
            try:
                names.model_file(model)
            except names.ModelFileError as e:
                raise UserError(f"{e}; give the directory model.tar.gz unpacks to") from None
        with tarfile.open(target, "w:gz") as tar:
            for item in sorted(model.iterdir()):
                tar.add(item, arcname=item.name)
    elif model.is_file() and tarfile.is_tarfile(model):
        shutil.copyfile(model, target)
    else:
        raise _not_a_model(model)
    return target
