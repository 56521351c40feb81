"""``smkit listing init``: a starter ``listing.yaml`` from the model package, manifest and model.

Facts smkit can know are filled in: instance types, content types, metering and the
container's environment come from DescribeModelPackage; features and classes from the
model's ``manifest.json``; latency, throughput, accuracy and the sample output from running
the image. Text only the seller can write holds a ``TODO`` placeholder that ``listing check``
refuses, so a placeholder can never reach the portal.
"""

from __future__ import annotations

import dataclasses
import json
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import smkit_contract.content_types as ct
import smkit_contract.names as names
import yaml
from botocore.exceptions import BotoCoreError, ClientError
from smkit_contract.signature import (
    INTEGER,
    KIND_PHRASE,
    NUMBER,
    Signature,
    SignatureError,
    describe_columns,
    is_missing,
    parses_as_number,
)

from smkit.aws import instances
from smkit.aws.instances import RunAs
from smkit.aws.publish import strip_marker
from smkit.core import arns
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.listing import samples
from smkit.listing.measure import (
    Measurements,
    check_labeled,
    measure,
    read_validation,
)
from smkit.listing.model import PLACEHOLDER
from smkit.listing.notebook import build_notebook
from smkit.listing.usage import usage_instructions
from smkit.project.labeled import label_first
from smkit.project.transform_job import TransformJob
from smkit.transform.image import measure_batch_rate

NOTEBOOK = "notebook/sample-notebook.ipynb"
#: The most characters of each sample (input, output) inlined in the listing. AWS takes 10,000
#: per sample text, but AddDeliveryOptions' whole Details must stay within 16,384 characters and
#: carries each sample twice (real-time and batch): 4 x 3,000 leaves room for the rest.
SAMPLE_INLINE_MAX = 3000
#: The start of every value only the seller can fill in (``listing check`` refuses it).
_TODO = f"{PLACEHOLDER}: "
#: Who measured the figures ``listing init`` writes.
MEASURED_BY = "smkit listing init"


@dataclass(frozen=True)
class PackageFacts:
    """What DescribeModelPackage tells a listing."""

    arn: str
    description: str
    realtime: list[str]
    batch: list[str]
    content_types: list[str]
    response_types: list[str]
    environment: dict[str, str]
    model_data_url: str | None
    certified: bool

    @property
    def metering(self) -> str:
        """``per-inference`` when the container is configured to send the metering header."""
        value = self.environment.get("SMKIT_METERING", "none").strip().lower()
        return "per-inference" if value == "per-inference" else "none"


def package_facts(description: dict[str, Any]) -> PackageFacts:
    """Pick the listing's facts out of a DescribeModelPackage answer."""
    spec = description.get("InferenceSpecification") or {}
    containers = spec.get("Containers") or [{}]
    return PackageFacts(
        arn=str(description.get("ModelPackageArn", "")),
        description=strip_marker(str(description.get("ModelPackageDescription") or "")),
        realtime=list(spec.get("SupportedRealtimeInferenceInstanceTypes") or []),
        batch=list(spec.get("SupportedTransformInstanceTypes") or []),
        content_types=list(spec.get("SupportedContentTypes") or []),
        response_types=list(spec.get("SupportedResponseMIMETypes") or []),
        environment={str(k): str(v) for k, v in (containers[0].get("Environment") or {}).items()},
        model_data_url=containers[0].get("ModelDataUrl"),
        certified=bool(description.get("CertifyForMarketplace")),
    )


def describe_package(sagemaker: Any, arn: str) -> PackageFacts:
    """DescribeModelPackage through boto3, as PackageFacts."""
    try:
        return package_facts(sagemaker.describe_model_package(ModelPackageName=arn))
    except ClientError as e:
        err = e.response.get("Error", {})
        raise PlatformError(f"DescribeModelPackage {arn}: {err.get('Code')}: "
                            f"{err.get('Message')}") from e
    except BotoCoreError as e:
        raise PlatformError(f"DescribeModelPackage {arn}: {e}") from e


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """``manifest.json`` of the model directory, or {} when it is missing or unreadable."""
    try:
        data = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _model_section(manifest: dict[str, Any]) -> dict[str, Any]:
    model = manifest.get("model")
    return model if isinstance(model, dict) else {}


def fetch_model(s3: Any, url: str, into: Path) -> Path:
    """Download ``model.tar.gz`` from S3 and unpack it (no paths outside ``into``)."""
    if not url.startswith("s3://"):
        raise UserError(f"ModelDataUrl {url} is not an s3:// URL; pass --model-dir")
    bucket, _, key = url[5:].partition("/")
    tarball = into / "model.tar.gz"
    try:
        s3.download_file(bucket, key, str(tarball))
    except (ClientError, BotoCoreError) as e:
        raise PlatformError(f"cannot download {url}: {e}") from e
    target = into / "model"
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target


def _sample(model_dir: Path, manifest: dict[str, Any], validation: Path | None,
            task: str, media: str) -> bytes:
    """The sample request body, in ``media`` (a text type the product declares)."""
    signature = _signature(manifest)
    name = manifest.get("sample_input")
    candidates = [model_dir / name] if isinstance(name, str) else []
    candidates += [model_dir / n for n in names.SAMPLE_FILES]
    found = [(p, ct.for_suffix(p.suffix)) for p in candidates if p.is_file()]
    # The listing shows the sample inline, so a binary one (.npy) is passed over; one already
    # in the product's type is taken as it is, else a CSV one is rewritten in that type.
    for path, body_type in sorted(found, key=lambda f: f[1] != media):
        if body_type in ct.TEXT:
            return samples.in_type(path.read_bytes().rstrip(b"\n"), body_type, media, signature)
    if validation is not None:
        features, labels = read_validation(validation)
        rows: list[list[str]] = []
        if task == "classification":
            seen: set[str] = set()
            for row, label in zip(features, labels, strict=True):
                if label not in seen:  # one sample per class, as Marketplace recommends
                    seen.add(label)
                    rows.append(row)
        else:
            rows = features[:3]
        return samples.encode_rows(rows[:10], media, signature)
    raise UserError("no sample input: add sample_input.csv to the model directory (or name one "
                    "in manifest.json), or pass --validation with labeled rows")


def _signature(manifest: dict[str, Any]) -> Signature | None:
    """The input signature smkit package proved, or None."""
    try:
        return Signature.from_json(manifest["signature"]) if manifest.get("signature") else None
    except SignatureError:
        return None


def trim_sample(body: bytes, limit: int = SAMPLE_INLINE_MAX) -> tuple[bytes, int, int]:
    """The first whole records of ``body`` that fit in ``limit`` characters.

    Returns (kept body, records kept, records in all). A single record longer than the limit
    cannot be trimmed: that is the caller's error to report.
    """
    lines = body.decode(errors="replace").splitlines()
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + (1 if kept else 0)
        if size > limit:
            break
        kept.append(line)
    if not kept:
        raise UserError(f"the sample input's first record has {len(lines[0]) if lines else 0} "
                        f"characters; the listing inlines at most {limit}: put a smaller "
                        "sample_input in the model directory")
    return "\n".join(kept).encode(), len(kept), len(lines)


def _input_description(media_types: list[str], signature: Signature | None,
                       features: list[str], n_features: int | None) -> str:
    """What a request holds, in each declared type's own words, then its columns."""
    kinds = [ct.canonical(m) for m in media_types]
    formats = " ".join(f"{m}: {ct.INPUT_FORMAT[m]}." for m in kinds if m in ct.INPUT_FORMAT)
    if signature is not None:
        columns = "Columns in this order: " + "; ".join(describe_columns(signature)) + "."
    elif features:
        columns = f"{len(features)} feature values in training order: {', '.join(features)}."
    elif n_features:
        columns = f"{n_features} feature values in training order."
    else:
        columns = "The feature values in training order."
    missing = list(dict.fromkeys(ct.MISSING_VALUE[m] for m in kinds if m in ct.MISSING_VALUE))
    text = f"{formats} {columns}"
    if missing:
        text += f" A missing value is {' or '.join(missing)}."
    strings = signature is not None and any(c.kind == "string" for c in signature.columns)
    if strings and ct.CSV in kinds and ct.JSONLINES in kinds:
        text += (" For a batch transform of text that may hold newlines, send JSON Lines: "
                 "SplitType=Line cuts CSV at every newline, even inside quotes.")
    return text


def _output_description(media_types: list[str], task: str, classes: list[Any]) -> str:
    """What an answer holds per record, in each declared answer type's own words."""
    kinds = [ct.canonical(m) for m in media_types]
    what = ("The predicted class label" + (f", one of {', '.join(map(str, classes))}"
                                           if classes else "")
            if task == "classification" else "The predicted value")
    formats = " ".join(f"{m}: {ct.OUTPUT_FORMAT[m]}." for m in kinds if m in ct.OUTPUT_FORMAT)
    return f"{what}, for each record. {formats}"


def build_starter(facts: PackageFacts, manifest: dict[str, Any], m: Measurements | None,
                  *, sample: bytes, sample_name: str, output_name: str, content_type: str,
                  access_role_arn: str | None, region: str,
                  run_as: RunAs | None = None) -> dict[str, Any]:
    """The starter listing as plain data (written to YAML by ``init``)."""
    model = _model_section(manifest)
    model_type = str(model.get("type") or "scikit-learn model")
    task = str(model.get("task") or "classification")
    realtime = facts.realtime or ["ml.m5.large"]
    batch = facts.batch or realtime
    return {
        "format": "smkit-listing/1",
        "product": {
            "title": f"{_TODO}product title ({model_type})",
            "short_description": f"{_TODO}what the model does, in one or two sentences",
            # The package's description is a hint only: the seller's text replaces it whole.
            "long_description": f"{_TODO}what the model does and its use cases"
                                + (f" (the model package says: {facts.description})"
                                   if facts.description else ""),
            "highlights": [f"{_TODO}first highlight"],
            "categories": [f"{_TODO}category"],
            # AWS requires at least one search keyword.
            "keywords": [f"{_TODO}keyword"],
            "logo_url": f"{_TODO}https URL of the logo",
        },
        "support": {"description": f"{_TODO}how buyers get support",
                    "refund_policy": f"{_TODO}refund policy"},
        "eula": {"type": "standard"},
        "training_data": {"source": f"{_TODO}source", "size": f"{_TODO}size",
                          "limitations": f"{_TODO}what the model cannot do"},
        "accuracy": _accuracy(m),
        "performance": _performance(m, realtime[0], run_as),
        "delivery": {
            "model_package_arn": facts.arn,
            "access_role_arn": access_role_arn or f"{_TODO}arn:aws:iam::<account>:role/<name>",
            "version_title": "1.0",
            "release_notes": "First release.",
            "usage_instructions": usage_instructions(
                model_package_arn=facts.arn, region=region, content_type=content_type,
                sample=sample, realtime_type=realtime[0], batch_type=batch[0] if batch else None,
                probabilities=task == "classification"),
            "sample_notebook_url": f"{_TODO}https URL where you publish {NOTEBOOK} (written "
                                   "by init: it runs end to end without the buyer's data)",
            # AWS requires it: where buyers find the model's code or documentation.
            "repository_url": f"{_TODO}https URL of the model's repository or documentation",
            "supported_instance_types": {"realtime": realtime, "batch": batch},
            "recommended_instance_types": {"realtime": realtime[0], "batch": batch[0]},
            "metering": facts.metering,
            # No "limitations" key: it is optional, and AWS refuses an empty one.
            **_io_sections(facts, manifest, task, content_type=content_type,
                           sample_name=sample_name, output_name=output_name),
        },
        "pricing": _pricing(facts.metering, realtime, batch),
        "regions": [region],
        "visibility": "Public",
    }


def _pricing(metering: str, realtime: list[str], batch: list[str]) -> dict[str, Any]:
    """The pricing section: per inference when the container meters, else hourly."""
    if metering == "per-inference":
        return {"model": "per-inference", "per_inference": f"{_TODO}USD per record",
                "batch": {i: f"{_TODO}USD per hour" for i in batch}}
    return {"model": "hourly",
            "realtime": {i: f"{_TODO}USD per hour" for i in realtime},
            "batch": {i: f"{_TODO}USD per hour" for i in batch},
            # AWS recommends a trial of 14 to 30 days; only the seller can choose one.
            "free_trial_days": f"{_TODO}days of free trial (5 to 120), or null for none"}


def _io_sections(facts: PackageFacts, manifest: dict[str, Any], task: str, *,
                 content_type: str, sample_name: str, output_name: str) -> dict[str, Any]:
    """The delivery's ``input`` and ``output``: columns from the manifest, classes, samples."""
    model = _model_section(manifest)
    classes = model.get("classes") or []
    features = [str(f) for f in model.get("feature_names") or []]
    n_features = model.get("n_features") or (len(features) if features else None)
    signature = _signature(manifest)
    if signature is not None:
        params = [{"name": c.name, "description": f"column {i + 1}: {KIND_PHRASE[c.kind]}"
                   + ("" if c.optional else ", required"), "required": not c.optional}
                  for i, c in enumerate(signature.columns)]
    else:
        params = [{"name": f, "description": f"feature column {i + 1}", "required": True}
                  for i, f in enumerate(features)]
    types = facts.content_types or [content_type]
    answers = facts.response_types or types
    custom = [{"name": "output=probabilities",
               "description": "return the class probabilities instead of labels",
               "constraints": "X-Amzn-SageMaker-Custom-Attributes", "required": False}
              ] if task == "classification" else []
    return {"input": {"description": _input_description(types, signature, features,
                                                         n_features),
                      "content_types": types, "sample_file": sample_name,
                      "parameters": params, "custom_attributes": custom},
            "output": {"description": _output_description(answers, task, classes),
                       "content_types": answers, "sample_file": output_name,
                       "parameters": []}}


def _performance(m: Measurements | None, instance_type: str,
                 run_as: RunAs | None) -> dict[str, Any]:
    """Latency and throughput as measured under the instance type's limits, or placeholders."""
    if m is not None and run_as is not None:
        return {"instance_type": instance_type, "latency_ms_p50": round(m.latency_ms_p50, 2),
                "latency_ms_p95": round(m.latency_ms_p95, 2),
                "throughput_per_s": round(m.throughput_per_s, 1),
                **({"batch_throughput_per_s": round(m.batch_throughput_per_s, 1)}
                   if m.batch_throughput_per_s else {}),
                "measured_on": run_as.phrase(), "measured_at": m.measured_at,
                "measured_by": MEASURED_BY}
    return {"instance_type": instance_type, "latency_ms_p50": f"{_TODO}measure",
            "latency_ms_p95": f"{_TODO}measure", "throughput_per_s": f"{_TODO}measure",
            "measured_on": f"{_TODO}where (e.g. an {instance_type} endpoint)",
            "measured_at": f"{_TODO}date (YYYY-MM-DD)"}


def _accuracy(m: Measurements | None) -> dict[str, Any]:
    """The metric measured on the labeled validation rows, or placeholders."""
    if m is not None and m.accuracy is not None:
        return {"metric": m.accuracy.metric, "value": round(m.accuracy.value, 4),
                "dataset": f"{m.accuracy.rows} held-out rows",
                "measured_at": m.measured_at, "measured_by": MEASURED_BY}
    return {"metric": f"{_TODO}e.g. accuracy", "value": f"{_TODO}number",
            "dataset": f"{_TODO}validation data", "measured_at": f"{_TODO}date (YYYY-MM-DD)"}


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


def check_label_position(validation: Path, manifest: dict[str, Any]) -> None:
    """Refuse a labeled file whose label comes first, read against the packaged signature.

    Any task: the features of a row (all but the last cell) break a numeric column of the
    signature, while the same row without its first cell fits it.
    """
    signature = _signature(manifest)
    if signature is None:
        return
    features, labels = read_validation(validation)

    def broken(cells: list[str]) -> str | None:
        for column, cell in zip(signature.columns, cells, strict=False):
            if column.kind in (NUMBER, INTEGER) and not (is_missing(cell)
                                                          or parses_as_number(cell)):
                return f"column {column.name!r} must be a number, got {cell!r}"
        return None

    for n, (row, label) in enumerate(zip(features, labels, strict=True), 1):
        why = broken(row)
        if why is not None and broken([*row[1:], label]) is None:
            raise UserError(label_first(f"--validation {validation.name}",
                                        f"line {n}: {why}; without its first cell it fits"))
        if why is not None:
            return  # another problem: the model says which


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, so usage instructions stay readable, and
    every value in place: one date shared by two sections is not an ``&id001`` anchor."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never alias: a seller edits each value where it stands."""
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML a seller can edit: keys in order, multi-line text as blocks."""
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def _with_batch_rate(m: Measurements, image: str, model_dir: Path, body: bytes, origin: str,
                     content_type: str, as_type: RunAs, env: dict[str, str],
                     echo: Callable[[str], None]) -> Measurements:
    """``m`` with the batch rate of a transform of ``body``'s records, repeated
    (``measure_batch_rate``), as the transform runner sends them: the rate a buyer's plan
    uses."""
    if content_type not in (ct.CSV, ct.JSONLINES):
        echo(f"note: no batch rate: {content_type} bodies are not line-delimited, so a batch "
             "transform sends each object whole; buyers' plans use the one-record rate")
        return m
    with tempfile.TemporaryDirectory(prefix="smkit-listing-") as tmp:

        def sample(records: int) -> Path:
            path = Path(tmp) / f"batch-{records}{ct.SUFFIX[content_type]}"
            path.write_bytes(samples.repeated(body, content_type, records))
            return path

        rate = measure_batch_rate(image, model_dir, sample, as_type,
                                  job=TransformJob(content_type=content_type), environment=env)
    echo(f"  batch transform: {rate.per_s:,.0f} records/s ({rate.records:,} records: {origin}, "
         f"repeated{rate.caveat})")
    return dataclasses.replace(m, batch_throughput_per_s=rate.per_s)


def init_listing(*, out: Path, facts: PackageFacts, model_dir: Path, image: str,
                 validation: Path | None, access_role_arn: str | None, measure_it: bool = True,
                 echo: Callable[[str], None] = print) -> Path:
    """Write ``out`` (listing.yaml) and its sample files beside it; return the YAML path."""
    if not facts.certified:
        raise UserError(f"model package {facts.arn} has CertifyForMarketplace=False: the "
                        "Marketplace portal refuses it; create the package again with "
                        "CertifyForMarketplace=True")
    manifest = read_manifest(model_dir)
    if not manifest:
        echo(f"note: {model_dir}/manifest.json is missing or unreadable; features and classes "
             "are left for you to describe")
    model = _model_section(manifest)
    task = str(model.get("task") or "classification")
    if validation is not None:
        described = manifest.get("model") or {}
        check_labeled(validation, n_features=described.get("n_features"),
                      classes=described.get("classes"), task=task)
        check_label_position(validation, manifest)
    # Written only once everything succeeded: a failed init leaves nothing behind.
    files: dict[Path, bytes] = {}
    content_type = samples.text_type(facts.content_types or [ct.CSV])
    suffix = ct.SUFFIX[content_type]
    body = _sample(model_dir, manifest, validation, task, content_type)
    if len(body.decode(errors="replace")) > SAMPLE_INLINE_MAX:
        body, kept, total = trim_sample(body)
        echo(f"note: the sample input is longer than the {SAMPLE_INLINE_MAX} characters the "
             f"listing inlines (AWS: 10,000 per sample, 16,384 per change); samples/ keeps its "
             f"first {kept} of {total} records")
    sample_name, output_name = f"samples/input{suffix}", f"samples/output{suffix}"
    files[out.parent / sample_name] = body
    m = None
    realtime = facts.realtime[0] if facts.realtime else "ml.m5.large"
    as_type = None
    if measure_it:
        machine = docker.engine_resources()
        as_type = instances.run_as(realtime, machine.cpus, machine.memory_bytes)
        if as_type is None:
            raise UserError(instances.unknown_type_problem(realtime, "realtime"))
        echo(f"running {image} in {as_type.phrase()} to measure latency, throughput"
             + (" and accuracy" if validation else "") + " ...")
        env = {"SMKIT_METERING": facts.metering} if facts.metering != "none" else {}
        m = measure(image, model_dir, body, content_type, env=env, validation=validation,
                    task=task, limits=as_type.docker_args())
        output = m.sample_output
        if len(output.decode(errors="replace")) > SAMPLE_INLINE_MAX:
            output, kept, total = trim_sample(output)
            echo(f"note: the model's answer is longer than {SAMPLE_INLINE_MAX} characters; "
                 f"samples/ keeps its first {kept} of {total} records")
        files[out.parent / output_name] = output
        echo(f"  latency {m.latency_ms_p50:.1f} ms median, {m.latency_ms_p95:.1f} ms p95; "
             f"throughput {m.throughput_per_s:.0f} records/s"
             + (f"; {m.accuracy.metric} {m.accuracy.value:.4f}" if m.accuracy else ""))
        # The held-out rows vary as a buyer's do; the sample may be one record. The package's
        # own environment, as SageMaker gives a transform job's container.
        if validation is not None:
            held_out = read_validation(validation)[0]
            batch_body = samples.encode_rows(held_out, content_type, _signature(manifest))
            origin = f"the {len(held_out):,} held-out rows"
        else:
            batch_body, origin = body, "the sample's records"
        m = _with_batch_rate(m, image, model_dir, batch_body, origin, content_type, as_type,
                             facts.environment, echo)
        if facts.metering == "per-inference":
            if m.metering is None:
                raise PlatformError("the model package sets SMKIT_METERING=per-inference but "
                                    "the container sent no metering header")
            echo(f"  metering header: {json.dumps(m.metering)}")
            records = (len(body.splitlines()) if content_type in (ct.CSV, ct.JSONLINES)
                       else None)
            if records is not None and m.metering.get("ConsumedUnits") != records:
                raise PlatformError(f"the container metered {m.metering.get('ConsumedUnits')} "
                                    f"units for a sample of {records} records; per-inference "
                                    "billing needs one unit per record")
    parts = arns.split(facts.arn)
    region = parts.region if parts is not None else "us-east-1"
    model_type = str(_model_section(manifest).get("type") or "scikit-learn model")
    notebook = build_notebook(title=model_type, model_package_arn=facts.arn,
                              sample_input=body.decode(errors="replace"),
                              content_type=content_type,
                              instance_type=realtime)
    files[out.parent / NOTEBOOK] = (json.dumps(notebook, indent=1) + "\n").encode()
    data = build_starter(facts, manifest, m, sample=body, sample_name=sample_name,
                         output_name=output_name, content_type=content_type,
                         access_role_arn=access_role_arn, region=region, run_as=as_type)
    header = ("# smkit listing: fill in every TODO, then `smkit listing check`.\n"
              "# samples/ holds the sample input and the model's own answer to it.\n")
    files[out] = (header + dump_yaml(data)).encode()
    for path, content in files.items():
        _write(path, content)
    return out


def model_dir_for(facts: PackageFacts, model_dir: Path | None, s3: Callable[[], Any],
                  scratch: Path) -> Path:
    """The model directory: the one given, or the package's model.tar.gz unpacked."""
    if model_dir is not None:
        if not (model_dir / names.CODE_DIR).is_dir():  # else model_fn may load the model
            try:
                names.model_file(model_dir)
            except names.ModelFileError as e:
                raise UserError(f"--model-dir: {e}") from None
        return model_dir
    if not facts.model_data_url:
        raise UserError("the model package has no ModelDataUrl; pass --model-dir")
    return fetch_model(s3(), facts.model_data_url, scratch)


def scratch_dir() -> Path:
    """A temporary directory the caller removes with ``shutil.rmtree``."""
    return Path(tempfile.mkdtemp(prefix="smkit-listing-"))
