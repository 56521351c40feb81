"""The ``describe`` exchange: what the seller tooling hands the image and what it gets back.

``smkit package`` runs ``IMAGE describe`` (``--network none``) with the model folder mounted
at ``names.CONTAINER_MODEL_DIR`` and, to derive the input signature, a folder of sample data
at ``INPUT_DIR``. The image loads the model as the server would and prints one
``Description`` as JSON on stdout. ``IMAGE versions`` prints ``ImageVersions`` alone; a
product image keeps that in ``VERSIONS_FILE``.

``VERSION`` 1 is the shape images printed before the field existed, so output without a
version reads as 1. A change of shape bumps it, and a reader refuses a version it does not
know, naming the rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .signature import Signature, SignatureError

VERSION = 1

#: Where the host mounts the sample data ``describe`` derives and proves the signature from.
INPUT_DIR = "/opt/ml/input/smkit-signature"
#: In ``INPUT_DIR``: the records (required for a signature).
SAMPLE_FILE = "sample"
#: In ``INPUT_DIR``: the records' MIME type, as text.
CONTENT_TYPE_FILE = "content_type"
#: In ``INPUT_DIR``, optional: smkit.yaml's ``signature:`` section, as JSON.
OVERRIDES_FILE = "overrides.json"
#: Where every image smkit builds records its Python and package versions.
VERSIONS_FILE = "/opt/smkit/versions.json"


class ExchangeError(ValueError):
    """The image's answer is not a description this side can read; the message says why."""


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ExchangeError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class ImageVersions:
    """Python, smkit and every installed distribution of an image, with their versions."""

    python: str
    smkit: str
    packages: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The printed form."""
        return {"python": self.python, "smkit": self.smkit,
                "packages": dict(sorted(self.packages.items()))}

    @classmethod
    def from_json(cls, data: Any) -> ImageVersions:
        """Read the printed form; raises ExchangeError naming what is missing."""
        d = _mapping(data, "versions")
        try:
            packages = {str(k): str(v) for k, v in _mapping(d["packages"], "packages").items()}
            return cls(python=str(d["python"]), smkit=str(d.get("smkit") or ""),
                       packages=packages)
        except KeyError as e:
            raise ExchangeError(f"versions lacks {e.args[0]!r}") from None


@dataclass(frozen=True)
class ModelFacts:
    """What the image makes of the loaded model."""

    type: str
    module: str
    #: "classification", "regression" or "other".
    task: str
    n_features: int | None
    feature_names: list[str] | None
    classes: list[Any] | None
    has_predict: bool

    def to_json(self) -> dict[str, Any]:
        """The printed form."""
        return {"type": self.type, "module": self.module, "task": self.task,
                "n_features": self.n_features, "feature_names": self.feature_names,
                "classes": self.classes, "has_predict": self.has_predict}

    @classmethod
    def from_json(cls, data: Any) -> ModelFacts:
        """Read the printed form; raises ExchangeError naming what is missing."""
        d = _mapping(data, "model")
        try:
            n = d["n_features"]
            names, classes = d["feature_names"], d["classes"]
            return cls(type=str(d["type"]), module=str(d["module"]), task=str(d["task"]),
                       n_features=None if n is None else int(n),
                       feature_names=None if names is None else [str(x) for x in names],
                       classes=None if classes is None else list(classes),
                       has_predict=bool(d["has_predict"]))
        except KeyError as e:
            raise ExchangeError(f"model lacks {e.args[0]!r}") from None


@dataclass(frozen=True)
class Derivation:
    """The input signature derived from the sample in ``INPUT_DIR``, or why there is none."""

    signature: Signature | None = None
    #: What deriving it found worth the seller's attention.
    notes: tuple[str, ...] = ()
    #: Why no signature could be proven (None: ``signature`` is proven, or none was asked).
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The printed form (``signature`` and ``error`` only when set)."""
        out: dict[str, Any] = {"notes": list(self.notes)}
        if self.signature is not None:
            out["signature"] = self.signature.to_json()
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, data: Any) -> Derivation:
        """Read the printed form; raises ExchangeError for a malformed signature."""
        d = _mapping(data, "signature")
        try:
            sig = Signature.from_json(d["signature"]) if d.get("signature") is not None else None
        except SignatureError as e:
            raise ExchangeError(str(e)) from None
        return cls(signature=sig, notes=tuple(str(n) for n in d.get("notes") or ()),
                   error=_optional_str(d, "error"))


@dataclass(frozen=True)
class Description:
    """What ``IMAGE describe`` prints: the image's versions and what it makes of the model.

    ``error`` is set when the model could not be found or loaded (``missing_module`` names
    a module the pickle needs that the image lacks); ``model`` is set when it loaded.
    """

    versions: ImageVersions
    model_file: str | None = None
    error: str | None = None
    missing_module: str | None = None
    #: The scikit-learn versions the model's pickle says it was saved with, when they differ
    #: from the image's.
    pickled_sklearn: tuple[str, ...] = ()
    model: ModelFacts | None = None
    derivation: Derivation | None = None
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        """The printed form (optional parts only when set)."""
        out: dict[str, Any] = {"version": self.version, "versions": self.versions.to_json(),
                               "pickled_sklearn": list(self.pickled_sklearn)}
        for key, value in (("model_file", self.model_file), ("error", self.error),
                           ("missing_module", self.missing_module)):
            if value is not None:
                out[key] = value
        if self.model is not None:
            out["model"] = self.model.to_json()
        if self.derivation is not None:
            out["signature"] = self.derivation.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> Description:
        """Read the printed form; raises ExchangeError naming what is wrong (an unknown
        version says to rebuild the image)."""
        d = _mapping(data, "the description")
        version = d.get("version", 1)
        if version != VERSION:
            raise ExchangeError(
                f"the image speaks describe version {version!r} and this smkit speaks "
                f"{VERSION}: rebuild the image with this smkit (`smkit build SPEC`, or "
                "`make build-container` for the default image)"
            )
        if "versions" not in d:
            raise ExchangeError("the description lacks 'versions'")
        return cls(
            versions=ImageVersions.from_json(d["versions"]),
            model_file=_optional_str(d, "model_file"),
            error=_optional_str(d, "error"),
            missing_module=_optional_str(d, "missing_module"),
            pickled_sklearn=tuple(str(v) for v in d.get("pickled_sklearn") or ()),
            model=ModelFacts.from_json(d["model"]) if d.get("model") is not None else None,
            derivation=(Derivation.from_json(d["signature"])
                        if d.get("signature") is not None else None),
            version=VERSION,
        )
