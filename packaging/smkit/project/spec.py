"""The seller's package spec: its schema, validated before any AWS call.

:mod:`smkit.project.spec_yaml` reads ``smkit.yaml`` into these models. Every error names the
field and says how to fix it. Checks: known SageMaker instance types
(the table is botocore's own service model, pinned with boto3) that the CPU-only image can
use, role ARNs rather than names, one account and one region across region, image and
roles, content types the inference image speaks, and batch-transform limits.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import botocore.loaders
import botocore.model
import smkit_contract.content_types as ct
import smkit_contract.env as env_names
import smkit_contract.limits as limits
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508Requirement
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from smkit_contract.signature import KINDS

from smkit.core import arns
from smkit.core.errors import UserError
from smkit.project.instance_types import InstanceTypes
from smkit.project.transform_job import TransformJob

#: Regions AWS enables only on request; Marketplace wants a region enabled by default.
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
    "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})
#: Instance families with accelerators; the smkit image is CPU-only and cannot use them.
ACCELERATED_FAMILIES = re.compile(r"^ml\.(p\d|g\d|inf\d|trn\d|dl\d)")
#: AWS Graviton (Arm) families: ml.c7g, ml.m6gd, ml.r8g, ... The image is x86_64 only.
ARM_FAMILIES = re.compile(r"^ml\.[a-z]+\d+g[a-z]*\.")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ECR_URI_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?"
    r"/(?P<repo>[a-z0-9._/-]+?)(?P<ref>@sha256:[0-9a-f]{64}|:[\w.-]{1,128})?$"
)
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ECR_REPO_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
#: Formats SageMaker batch transform can split and assemble (npy only whole objects).
TRANSFORM_SPLITTABLE = (ct.CSV, ct.JSON, ct.JSONLINES)


@functools.lru_cache(maxsize=1)
def instance_types() -> dict[str, tuple[str, ...]]:
    """Valid ``ml.*`` types per use, from botocore's SageMaker service model (as pinned)."""
    # Straight from botocore's data files: no session, so no AWS configuration is read.
    data = botocore.loaders.create_loader().load_service_model("sagemaker", "service-2")
    model = botocore.model.ServiceModel(data, service_name="sagemaker")
    return {
        "realtime": tuple(model.shape_for("ProductionVariantInstanceType").enum),
        "transform": tuple(model.shape_for("TransformInstanceType").enum),
    }


def _check_instance_type(value: str, use: str) -> str:
    known = instance_types()[use]
    if value not in known:
        close = difflib.get_close_matches(value, known, n=3, cutoff=0.75)
        hint = f"did you mean {', '.join(close)}?" if close else "e.g. ml.m5.large"
        label = "real-time inference" if use == "realtime" else "batch transform"
        raise ValueError(f"{value!r} is not a SageMaker {label} instance type; {hint}")
    if ACCELERATED_FAMILIES.match(value):
        raise ValueError(
            f"{value!r} is a GPU/accelerator type; the smkit image runs scikit-learn on CPU "
            "only, so list CPU types (ml.m5.*, ml.c5.*, ...); Marketplace asks for one "
            "package per hardware family"
        )
    if ARM_FAMILIES.match(value):
        raise ValueError(
            f"{value!r} is an AWS Graviton (Arm) type; the smkit image and the wheels in it "
            "are built for x86_64, so the container would not start there; list x86 types "
            "(ml.m5.*, ml.c6i.*, ml.m7i.*, ...)"
        )
    return value


def _content_type(value: str) -> str:
    canonical = ct.canonical(value.split(";")[0])
    if canonical not in ct.SUPPORTED:
        raise ValueError(
            f"{value!r} is not a type the smkit image speaks; use one of "
            f"{', '.join(ct.SUPPORTED)}"
        )
    return canonical


ContentType = Annotated[str, AfterValidator(_content_type)]
RealtimeType = Annotated[str, AfterValidator(lambda v: _check_instance_type(v, "realtime"))]
TransformType = Annotated[str, AfterValidator(lambda v: _check_instance_type(v, "transform"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The default image's repository (``make build-container``).
DEFAULT_IMAGE_REPOSITORY = "smkit-inference"


@dataclass(frozen=True)
class ImagePython:
    """A Python an image can run: Debian's own ``python3`` of one Debian release."""

    #: ``major.minor``, as ``python.version`` spells it.
    version: str
    #: The Debian suite whose ``python3`` it is (the OS base is that suite).
    suite: str
    #: The suite's glibc minor version (2.N): the newest manylinux wheels it installs.
    glibc_minor: int

    @property
    def major_minor(self) -> tuple[int, int]:
        """``version`` as numbers, to compare with an interpreter's ``(major, minor)``."""
        major, minor = self.version.split(".")
        return int(major), int(minor)


#: The Pythons an image can run, by ``python.version``: the one owner of the supported set.
IMAGE_PYTHONS: dict[str, ImagePython] = {
    "3.11": ImagePython("3.11", "bookworm", 36),
    "3.13": ImagePython("3.13", "trixie", 41),
}
#: The image's Python when ``python.version`` is not given.
DEFAULT_PYTHON = "3.11"


def image_python_for(trained: tuple[int, int]) -> ImagePython | None:
    """The image Python nearest to a training interpreter's ``(major, minor)``: the same
    one, else the oldest newer one (3.12 -> 3.13, as Debian has no 3.12); None when newer
    than all of them."""
    for python in sorted(IMAGE_PYTHONS.values(), key=lambda p: p.major_minor):
        if python.major_minor >= trained:
            return python
    return None


class ImageSpec(_Strict):
    """The inference image and where it goes in ECR."""

    #: The local image ``smkit push`` pushes.
    local: str = "smkit-inference:latest"
    #: ECR repository name in the seller's account (created if missing).
    repository: str = "smkit-inference"
    #: Tag pushed with the image (the package references the digest, not the tag).
    tag: str = "latest"
    #: An image already in ECR (``<acct>.dkr.ecr.<region>.amazonaws.com/repo@sha256:...``);
    #: when set, push is skipped and this is referenced.
    uri: str | None = None

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        if not ECR_REPO_RE.match(v) or len(v) > 256:
            raise ValueError(
                f"{v!r} is not a valid ECR repository name; use lower-case letters, digits "
                "and . _ - / (e.g. my-model)"
            )
        return v

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = ECR_URI_RE.match(v)
        if not m:
            raise ValueError(
                f"{v!r} is not an ECR image URI; expected "
                "<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>"
            )
        if not (m.group("ref") or "").startswith("@sha256:"):
            raise ValueError(
                f"{v!r} has no digest; Marketplace packages must reference the image by "
                "digest: append @sha256:<digest> (or leave uri out and run smkit push)"
            )
        return v


class S3Spec(_Strict):
    """Where the artifact and validation data are uploaded."""

    bucket: str
    prefix: str = "smkit"

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if v.startswith("s3://"):
            raise ValueError(f"give the bucket name only, not a URL: {v[5:].split('/')[0]!r}")
        if not BUCKET_RE.match(v):
            raise ValueError(f"{v!r} is not a valid S3 bucket name (3-63 chars, a-z 0-9 . -)")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return v.strip("/")


class ValidationSpec(_Strict):
    """The batch transform SageMaker runs on the sample data to certify the package."""

    role: str
    input: Path
    content_type: str = ct.CSV
    accept: str | None = None
    split_type: Literal["None", "Line"] = "Line"
    instance_type: str = "ml.m5.large"
    batch_strategy: env_names.BatchStrategy | None = None
    max_payload_mb: int | None = Field(default=None, ge=0, le=limits.BATCH_MAX_PAYLOAD_MB)
    max_concurrent_transforms: int | None = Field(default=None, ge=1)
    assemble_with: Literal["None", "Line"] = "Line"
    profile_name: str = "validation"

    def job(self, environment: Mapping[str, str]) -> TransformJob:
        """The batch transform job this profile runs, with the spec's ``environment``.

        Every field but role, input and profile_name is a ``TransformJob`` field of the
        same name, so the section cannot describe a job the job type does not know.
        """
        return TransformJob(**self.model_dump(exclude={"role", "input", "profile_name"}),
                            environment=dict(environment))

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        arns.role_arn(v)
        return v

    @field_validator("content_type")
    @classmethod
    def _ct(cls, v: str) -> str:
        return _content_type(v)

    @field_validator("accept")
    @classmethod
    def _accept(cls, v: str | None) -> str | None:
        return None if v is None else _content_type(v)

    @model_validator(mode="after")
    def _limits(self) -> ValidationSpec:
        product = (self.max_payload_mb or limits.DEFAULT_BATCH_PAYLOAD_MB) * (
            self.max_concurrent_transforms or 1
        )
        if product > limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT:
            raise ValueError(
                f"max_concurrent_transforms x max_payload_mb is {product}; SageMaker allows "
                f"at most {limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT}: lower one of them"
            )
        if self.split_type == "Line" and self.content_type not in TRANSFORM_SPLITTABLE:
            raise ValueError(
                f"split_type Line cannot split {self.content_type}; use split_type None or "
                f"one of {', '.join(TRANSFORM_SPLITTABLE)}"
            )
        return self


def _requirement(value: str) -> str:
    """A pinned PEP 508 requirement (``name==version``); raise ValueError with the fix."""
    text = value.strip()
    try:
        req = Pep508Requirement(text)
    except InvalidRequirement as e:
        raise ValueError(f"{value!r} is not a pip requirement ({e}); write name==version") from None
    if req.url:
        raise ValueError(f"{value!r} names a URL; the build is offline: download the wheel and "
                         "list it under python.wheels instead")
    pins = [sp for sp in req.specifier if sp.operator in ("==", "===") and "*" not in sp.version]
    if not pins:
        raise ValueError(
            f"{value!r} is not pinned; the product image must be reproducible: write "
            f"{req.name}==<version> (`smkit env detect --model model/model.joblib` prints the "
            "versions installed where you trained)"
        )
    return text


Requirement = Annotated[str, AfterValidator(_requirement)]


class PythonEnv(_Strict):
    """The product image's own Python environment: what the model needs beyond the server.

    Empty means the default image (``make build-container``). Anything declared is installed
    at build time, offline, in a layer of its own on top of the shared server base.
    """

    #: Pinned requirements (``name==version``), pip syntax.
    packages: list[Requirement] = Field(default_factory=list)
    #: A requirements file (relative to the spec), same rules as ``packages``.
    requirements: Path | None = None
    #: Local wheel files, or folders of them, for packages PyPI has no wheel of.
    wheels: list[Path] = Field(default_factory=list)
    #: The seller's own code the pickle imports: ``.py`` files, packages (folders with
    #: ``__init__.py``, importable by their name) or plain folders (their modules importable).
    source: list[Path] = Field(default_factory=list)
    #: The image's Python (``IMAGE_PYTHONS``); the default when not given.
    version: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _known_python(cls, value: object) -> object:
        text = str(value) if isinstance(value, (int, float)) else value
        if text is not None and text not in IMAGE_PYTHONS:
            raise ValueError(f"{value!r} is not a Python the image can run; use "
                             + " or ".join(f'"{v}"' for v in IMAGE_PYTHONS)
                             + " (quoted, so YAML keeps it a string)")
        return text

    @property
    def image_python(self) -> ImagePython:
        """The image's Python: ``version``, else the default."""
        return IMAGE_PYTHONS[self.version or DEFAULT_PYTHON]

    @property
    def declared(self) -> bool:
        """True when anything is declared, so the model gets a product image of its own."""
        return bool(self.packages or self.requirements or self.wheels or self.source
                    or self.image_python.version != DEFAULT_PYTHON)

    def all_requirements(self) -> list[str]:
        """``packages`` plus the requirements file's lines (comments and blanks dropped)."""
        out = list(self.packages)
        if self.requirements is not None:
            for n, line in enumerate(self.requirements.read_text().splitlines(), 1):
                text = line.split(" #")[0].strip()
                if not text or text.startswith("#"):
                    continue
                if text.startswith("-"):
                    raise UserError(f"python.requirements: {self.requirements.name} line {n}: "
                                    f"pip options ({text.split()[0]}) are not supported; list "
                                    "wheels under python.wheels")
                try:
                    out.append(_requirement(text))
                except ValueError as e:
                    raise UserError(f"python.requirements: {self.requirements.name} line {n}: "
                                    f"{e}") from None
        return out


class Spec(_Strict):
    """What the seller's ``smkit.yaml`` describes: one model package."""

    #: Model package name (or the group's, when ``group`` is not given).
    name: str
    region: str
    #: Optional; when given, every ARN and URI must be in this account.
    account_id: str | None = None
    description: str = ""
    #: Model package group: set it to version packages; leave it out for one unversioned one.
    group: str | None = None
    model_dir: Path
    image: ImageSpec = ImageSpec()
    s3: S3Spec
    content_types: list[ContentType] = Field(default_factory=lambda: [ct.CSV], min_length=1)
    response_types: list[ContentType] = Field(default_factory=lambda: [ct.CSV], min_length=1)
    instance_types: InstanceTypes[RealtimeType, TransformType]
    validation: ValidationSpec
    #: Extra container environment (ContainerDefinition.Environment).
    environment: dict[str, str] = Field(default_factory=dict)
    #: The model's own Python environment; empty means the default image.
    python: PythonEnv = PythonEnv()
    #: Where ``smkit package`` writes model.tar.gz, relative to the spec file.
    output_dir: Path = Path("build/smkit")
    #: Overrides of the derived input signature: ``column: kind`` or
    #: ``column: {kind: ..., optional: ...}`` (kinds: number, integer, string, boolean).
    signature: dict[str, Any] = Field(default_factory=dict)

    @field_validator("signature")
    @classmethod
    def _signature(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, entry in v.items():
            item = entry if isinstance(entry, dict) else {"kind": entry}
            unknown = set(item) - {"kind", "optional"}
            if unknown:
                raise ValueError(f"{name}: only kind and optional may be set, not "
                                 f"{', '.join(sorted(unknown))}")
            if "kind" in item and item["kind"] not in KINDS:
                raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)}, not "
                                 f"{item['kind']!r}")
            if "optional" in item and not isinstance(item["optional"], bool):
                raise ValueError(f"{name}: optional must be true or false")
        return v

    @field_validator("name", "group")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid SageMaker name; use letters, digits and single "
                "hyphens, 1-63 characters, starting with a letter or digit"
            )
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not REGION_RE.match(v):
            raise ValueError(f"{v!r} is not an AWS region name (e.g. us-east-1)")
        if v in OPT_IN_REGIONS:
            raise ValueError(
                f"{v} is an opt-in region; AWS Marketplace model packages must be in a "
                "region enabled by default (e.g. us-east-1, eu-west-1)"
            )
        return v

    @field_validator("account_id")
    @classmethod
    def _account(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{12}", v):
            raise ValueError(f"{v!r} is not a 12-digit AWS account id (quote it in YAML)")
        return v

    @field_validator("content_types", "response_types", mode="after")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        if len(v) > 1024:
            raise ValueError(f"is {len(v)} characters; SageMaker's limit is 1024")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        v = self.validation
        if (self.python.declared and "local" in self.image.model_fields_set
                and not self.image.local.startswith(DEFAULT_IMAGE_REPOSITORY + ":")):
            raise ValueError(
                "image.local and python are both given: leave image.local out and smkit "
                "builds the product image from the python section (`smkit build`)"
            )
        if v.content_type not in self.content_types:
            raise ValueError(
                f"validation.content_type {v.content_type} is not in content_types "
                f"({', '.join(self.content_types)}); add it there or change it"
            )
        if v.accept is not None and v.accept not in self.response_types:
            raise ValueError(
                f"validation.accept {v.accept} is not in response_types; add it there"
            )
        if v.instance_type not in self.instance_types.transform:
            raise ValueError(
                f"validation.instance_type {v.instance_type} is not in "
                "instance_types.transform; validation must run on a type buyers can use"
            )
        accounts = {"validation.role": arns.role_arn(v.role).account}
        if self.account_id:
            accounts["account_id"] = self.account_id
        if self.image.uri:
            m = ECR_URI_RE.match(self.image.uri)
            assert m is not None  # checked by ImageSpec
            accounts["image.uri"] = m.group("account")
            if m.group("region") != self.region:
                raise ValueError(
                    f"image.uri is in {m.group('region')} but region is {self.region}; "
                    "Marketplace needs the image in an ECR repository of the same region"
                )
        if len(set(accounts.values())) > 1:
            seen = ", ".join(f"{k}={a}" for k, a in accounts.items())
            raise ValueError(
                f"resources are in different accounts ({seen}); the image, roles and "
                "buckets must all belong to the seller's one account"
            )
        return self

    @property
    def account(self) -> str:
        """The seller's account as the spec states it (account_id, else the role's)."""
        return self.account_id or arns.role_arn(self.validation.role).account

    @property
    def group_name(self) -> str | None:
        """The model package group, or None for an unversioned package."""
        return self.group
