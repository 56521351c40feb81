"""The manifest at the root of ``model.tar.gz``: what the artifact holds and what built it.

Standard library only: the seller's tooling writes it, the server (and the listing code) read
and verify it. Format ``smkit-manifest/1``::

    {"format": "smkit-manifest/1",
     "files": {"<relpath>": {"sha256": "...", "size": N}},      # manifest.json excluded
     "versions": {"python": ..., "scikit-learn": ..., "numpy": ..., "joblib": ...,
                  "smkit": ..., "scipy"?: ..., "pandas"?: ...,
                  "packages"?: {"<distribution>": "<version>", ...}},  # all in the image
     "image": {"uri": "...", "digest": "sha256:..." | null},
     "model": {"type": "Pipeline", "task": "classification" | "regression" | "other",
               "n_features": int | null, "feature_names": [...] | null, "classes": [...] | null},
     "sample_input": "sample_input.csv" | null,
     "signature"?: {"columns": [{"name", "kind", "optional"}, ...], "frame": bool}}

``signature`` (optional, see ``smkit_contract.signature``) is the model's input signature,
derived and proven by ``smkit package``; manifests without it stay valid and the server
then infers the columns' kinds from the model and the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .signature import Signature, SignatureError

FORMAT = "smkit-manifest/1"
FILENAME = "manifest.json"
#: Keys every manifest's ``versions`` holds (a product image may have no pandas or scipy).
VERSION_KEYS = ("python", "scikit-learn", "numpy", "joblib", "smkit")
TASKS = ("classification", "regression", "other")
_CHUNK = 1024 * 1024


class ManifestError(ValueError):
    """The manifest is missing, malformed, or does not match the files next to it."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(root: Path, relpaths: list[str]) -> dict[str, dict[str, Any]]:
    """``{relpath: {"sha256", "size"}}`` for the given files under ``root``, sorted by path."""
    return {
        rel: {"sha256": sha256_file(root / rel), "size": (root / rel).stat().st_size}
        for rel in sorted(relpaths)
    }


def build(
    files: Mapping[str, Mapping[str, Any]],
    versions: Mapping[str, Any],
    image_uri: str,
    image_digest: str | None,
    model: Mapping[str, Any],
    sample_input: str | None,
    signature: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a manifest dict; raises ManifestError when a required part is missing."""
    missing = [k for k in VERSION_KEYS if k not in versions]
    if missing:
        raise ManifestError(f"versions lacks {', '.join(missing)}")
    if FILENAME in files:
        raise ManifestError(f"files must not list {FILENAME} itself")
    manifest = {
        "format": FORMAT,
        "files": {k: dict(files[k]) for k in sorted(files)},
        "versions": {k: (dict(v) if isinstance(v, Mapping) else str(v))
                     for k, v in sorted(versions.items())},
        "image": {"uri": image_uri, "digest": image_digest},
        "model": {
            "type": model.get("type"),
            "task": model.get("task", "other"),
            "n_features": model.get("n_features"),
            "feature_names": model.get("feature_names"),
            "classes": model.get("classes"),
        },
        "sample_input": sample_input,
    }
    if signature is not None:
        manifest["signature"] = dict(signature)
    validate(manifest)
    return manifest


def dumps(manifest: Mapping[str, Any]) -> bytes:
    """Canonical bytes: sorted keys, fixed separators, trailing newline (deterministic)."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def validate(manifest: Any) -> None:
    """Check the shape of a manifest dict; raises ManifestError naming the bad field."""
    if not isinstance(manifest, dict):
        raise ManifestError("the manifest must be a JSON object")
    if manifest.get("format") != FORMAT:
        raise ManifestError(f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ManifestError("files must be an object of {relpath: {sha256, size}}")
    for rel, entry in files.items():
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise ManifestError(f"files[{rel!r}] must be a relative path inside the artifact")
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or len(entry["sha256"]) != 64
            or not isinstance(entry.get("size"), int)
        ):
            raise ManifestError(f"files[{rel!r}] must be {{'sha256': 64 hex chars, 'size': int}}")
    versions = manifest.get("versions")
    if not isinstance(versions, dict) or any(k not in versions for k in VERSION_KEYS):
        raise ManifestError(f"versions must hold {', '.join(VERSION_KEYS)}")
    image = manifest.get("image")
    if not isinstance(image, dict) or "uri" not in image or "digest" not in image:
        raise ManifestError("image must be {'uri': str, 'digest': 'sha256:...' or null}")
    digest = image["digest"]
    if digest is not None and not (isinstance(digest, str) and digest.startswith("sha256:")):
        raise ManifestError(f"image.digest must be 'sha256:...' or null, not {digest!r}")
    model = manifest.get("model")
    if not isinstance(model, dict) or model.get("task") not in TASKS:
        raise ManifestError(f"model.task must be one of {', '.join(TASKS)}")
    sample = manifest.get("sample_input")
    if sample is not None and sample not in files:
        raise ManifestError(f"sample_input {sample!r} is not one of the listed files")
    if "signature" in manifest:
        try:
            Signature.from_json(manifest["signature"])
        except SignatureError as e:
            raise ManifestError(str(e)) from None


def read(model_dir: Path) -> dict[str, Any]:
    """Load and shape-check ``model_dir/manifest.json``."""
    path = Path(model_dir) / FILENAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path} is not readable JSON: {e}") from e
    validate(manifest)
    return dict(manifest)


def verify(
    model_dir: Path,
    manifest: Mapping[str, Any] | None = None,
    *,
    ignore_unlisted: Callable[[str], bool] | None = None,
) -> list[str]:
    """Compare the files under ``model_dir`` with the manifest; return the problems found.

    An empty list means every listed file exists with the recorded size and sha256. Files
    that are present but unlisted are reported too (a tampered artifact may add code),
    except those ``ignore_unlisted`` says are never read.
    """
    root = Path(model_dir)
    manifest = manifest if manifest is not None else read(root)
    problems = []
    listed = manifest["files"]
    for rel, entry in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: size {path.stat().st_size}, manifest says {entry['size']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if ignore_unlisted is not None and ignore_unlisted(rel):
            continue
        if path.is_file() and rel != FILENAME and rel not in listed:
            problems.append(f"{rel}: not listed in the manifest")
    return problems
