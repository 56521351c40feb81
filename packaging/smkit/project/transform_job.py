"""The batch transform job: one description from the spec to the container.

``TransformJob`` holds what a CreateTransformJob request says about the work (content types,
split, strategy, payload, concurrency, assembly, DataProcessing, retries and timeout, the
container environment, and the instances). The spec's validation profile, ``smkit buyer
transform`` and ``smkit transform`` all describe their job with it. From it come:

- ``request``: the CreateTransformJob request, and ``definition``: a model package's
  TransformJobDefinition (the validation profile), built by the same code;
- ``TransformConfig``: the same job run by smkit's own runner over local files
  (``to_config``), so a local rehearsal and the cloud job cannot drift apart;
- ``container_environment``: the one environment merge (SageMaker's precedence).

Distribution: CreateTransformJob has no ``S3DataDistributionType`` (its TransformS3DataSource
takes only S3DataType and S3Uri). Batch transform always "partitions the Amazon S3 objects in
the input by key and maps Amazon S3 objects to instances" (SageMaker developer guide, "Use
batch transform to run inference with Amazon SageMaker AI"; awsdocs/amazon-sagemaker-developer-
guide doc_source/batch-transform.md), which is ``ShardedByS3Key``. ``FullyReplicated`` would
transform every object on every instance, so it is accepted only with one instance, where the
two are the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import smkit_contract.content_types as ct
import smkit_contract.env as env_names
import smkit_contract.limits as limits

from smkit.core.errors import UserError
from smkit.project import jsonpath

SPLIT_TYPES = ("None", "Line")
ASSEMBLE = ("None", "Line")
JOIN_SOURCES = ("None", "Input")
#: Formats whose records the DataProcessing filters can read.
FILTERABLE = (ct.CSV, ct.JSON, ct.JSONLINES)
SHARDED = "ShardedByS3Key"
REPLICATED = "FullyReplicated"
DISTRIBUTIONS = (SHARDED, REPLICATED)
#: ModelClientConfig bounds and SageMaker's defaults (CreateTransformJob API reference).
MAX_INVOCATION_TIMEOUT_S = 3600
MAX_INVOCATION_RETRIES = 3
#: The instance type when neither the job nor the model package names one.
DEFAULT_INSTANCE_TYPE = "ml.m5.large"


def container_environment(package: Mapping[str, str], job: Mapping[str, str] | None = None,
                          batch: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a model package's container gets in a batch transform job.

    SageMaker's precedence: the model package's container ``Environment``
    (InferenceSpecification.Containers[].Environment, which CreateModel takes over), then
    the transform job's ``Environment`` (CreateTransformJob, or the validation profile's
    TransformJobDefinition), whose variables override the package's key by key. Last come
    ``batch``, the variables SageMaker itself sets from the job's own parameters
    (SAGEMAKER_BATCH and, when the job sets them, SAGEMAKER_MAX_PAYLOAD_IN_MB,
    SAGEMAKER_BATCH_STRATEGY, SAGEMAKER_MAX_CONCURRENT_TRANSFORMS; contract doc, "Batch
    transform"): they state what the requests the container gets are built from, so no
    Environment entry may contradict them. A real-time container gets ``package`` alone.
    """
    return {**package, **(job or {}), **(batch or {})}


def _parse(name: str, text: str | None) -> jsonpath.JsonPath | None:
    """A DataProcessing filter, parsed; None when it selects everything."""
    if text is None or not text.strip():
        return None
    try:
        path = jsonpath.parse(text)
    except jsonpath.JsonPathError as e:
        raise UserError(f"{name} {e}") from None
    return None if path.is_root else path


@dataclass(frozen=True)
class TransformJob:
    """What a batch transform job does, wherever it runs (see the module docstring).

    None means "not set in the request": SageMaker (and smkit's runner) then asks the
    container's ``/execution-parameters``, then uses its defaults.
    """

    #: TransformInput.ContentType.
    content_type: str = ct.CSV
    #: TransformOutput.Accept (None: the container's choice).
    accept: str | None = None
    #: TransformInput.SplitType: "None" (a whole object per request) or "Line".
    split_type: str = "Line"
    #: BatchStrategy: one of smkit_contract.env.BATCH_STRATEGIES.
    batch_strategy: str | None = None
    #: MaxPayloadInMB (0 streams the body with chunked encoding; then a mini-batch has no
    #: size limit, and JoinSource=Input holds its records to join them).
    max_payload_mb: int | None = None
    #: MaxConcurrentTransforms (requests in flight per instance).
    max_concurrent_transforms: int | None = None
    #: TransformOutput.AssembleWith: "Line" puts a newline after every response.
    assemble_with: str = "Line"
    #: DataProcessing.InputFilter (JSONPath subset), None or "$" for the whole record.
    input_filter: str | None = None
    #: DataProcessing.JoinSource: "None" or "Input".
    join_source: str = "None"
    #: DataProcessing.OutputFilter (JSONPath subset), None or "$" for the whole record.
    output_filter: str | None = None
    #: ModelClientConfig.InvocationsTimeoutInSeconds (1 to 3600; SageMaker's default 3600).
    invocation_timeout_s: int | None = None
    #: ModelClientConfig.InvocationsMaxRetries (0 to 3; SageMaker's default 3): a request
    #: is sent again after no answer or a 5xx, never after a 4xx.
    invocation_retries: int | None = None
    #: Environment: the job's variables for the container (see ``container_environment``).
    environment: dict[str, str] = field(default_factory=dict)
    #: TransformResources.InstanceType (None: the model package's first transform type).
    instance_type: str | None = None
    #: TransformResources.InstanceCount.
    instance_count: int = 1
    #: How input objects reach the instances (see the module docstring).
    distribution: str = SHARDED

    # ------------------------------------------------------------------ checks

    def validate(self) -> None:
        """Check every parameter without any AWS call; UserError says what to change."""
        if self.instance_count < 1:
            raise UserError(f"--instance-count {self.instance_count} must be at least 1")
        if self.distribution not in DISTRIBUTIONS:
            raise UserError(f"--distribution {self.distribution!r} must be {SHARDED} or "
                            f"{REPLICATED}")
        if self.distribution == REPLICATED and self.instance_count > 1:
            raise UserError(
                f"--distribution {REPLICATED} with {self.instance_count} instances would "
                f"transform every object {self.instance_count} times: batch transform shards "
                f"objects by key (CreateTransformJob has no S3DataDistributionType); use "
                f"--distribution {SHARDED} or --instance-count 1")
        if self.invocation_timeout_s is not None and not (
                1 <= self.invocation_timeout_s <= MAX_INVOCATION_TIMEOUT_S):
            raise UserError(f"--invocation-timeout {self.invocation_timeout_s} must be 1 to "
                            f"{MAX_INVOCATION_TIMEOUT_S} seconds")
        if self.invocation_retries is not None and not (
                0 <= self.invocation_retries <= MAX_INVOCATION_RETRIES):
            raise UserError(f"--invocation-retries {self.invocation_retries} must be 0 to "
                            f"{MAX_INVOCATION_RETRIES}")
        self._validate_records()

    def _validate_records(self) -> None:
        """The rules on how records are split, batched, filtered and assembled."""
        if self.split_type not in SPLIT_TYPES:
            raise UserError(
                f"SplitType {self.split_type!r} is not supported here; use None or Line "
                "(RecordIO and TFRecord are not implemented)"
            )
        if (self.batch_strategy is not None
                and self.batch_strategy not in env_names.BATCH_STRATEGIES):
            raise UserError(f"BatchStrategy {self.batch_strategy!r} must be "
                            f"{' or '.join(env_names.BATCH_STRATEGIES)}")
        if self.max_payload_mb is not None and not (
            0 <= self.max_payload_mb <= limits.BATCH_MAX_PAYLOAD_MB
        ):
            raise UserError(f"MaxPayloadInMB {self.max_payload_mb} must be 0 to "
                            f"{limits.BATCH_MAX_PAYLOAD_MB}")
        if self.max_concurrent_transforms is not None and self.max_concurrent_transforms < 1:
            raise UserError("MaxConcurrentTransforms must be at least 1")
        if (self.max_payload_mb and self.max_concurrent_transforms and
                self.max_payload_mb * self.max_concurrent_transforms
                > limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT):
            raise UserError(
                f"MaxConcurrentTransforms x MaxPayloadInMB = {self.max_concurrent_transforms} x "
                f"{self.max_payload_mb} is over {limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT}; "
                "lower MaxConcurrentTransforms (--max-concurrent) or MaxPayloadInMB "
                "(--max-payload)"
            )
        if self.assemble_with not in ASSEMBLE:
            raise UserError(f"AssembleWith {self.assemble_with!r} must be None or Line")
        if self.join_source not in JOIN_SOURCES:
            raise UserError(f"JoinSource {self.join_source!r} must be None or Input")
        if self.uses_data_processing:
            media = self.media_type
            if media not in FILTERABLE:
                raise UserError(
                    f"InputFilter/JoinSource/OutputFilter need ContentType {', '.join(FILTERABLE)}"
                    f"; got {self.content_type!r}"
                )
            if self.split_type == "None" and self.max_payload_mb == 0:
                raise UserError("InputFilter/JoinSource/OutputFilter with SplitType=None need a "
                                "MaxPayloadInMB above 0 (the file is read to filter it)")
            checks = [("InputFilter", self.input_path)]
            if self.joins:
                checks.append(("OutputFilter", self.output_path))
            for name, path in checks:
                if path is not None and media == ct.CSV and not path.index_only:
                    raise UserError(f"{name} {path.text!r}: CSV records are arrays, so only "
                                    "index paths such as '$[1:]' or '$[0,-1]' work")

    def validate_for(self, *, content_types: Sequence[str], response_types: Sequence[str],
                     transform_types: Sequence[str]) -> str:
        """Check the job against what a model package supports (its lists may be empty: then
        anything goes); returns the instance type to use. UserError says what to change."""
        self.validate()
        if content_types and self.media_type not in {ct.canonical(c) for c in content_types}:
            raise UserError(f"--content-type {self.content_type} is not supported by the model "
                            f"package; use one of {', '.join(content_types)}")
        if self.accept and response_types and ct.canonical(self.accept) not in {
                ct.canonical(c) for c in response_types}:
            raise UserError(f"--accept {self.accept} is not supported by the model package; "
                            f"use one of {', '.join(response_types)}")
        instance = self.instance_type or (transform_types[0] if transform_types
                                          else DEFAULT_INSTANCE_TYPE)
        if transform_types and instance not in transform_types:
            raise UserError(f"--instance-type {instance} is not supported by the model package "
                            f"for batch transform; use one of {', '.join(transform_types)}")
        return instance

    @property
    def media_type(self) -> str:
        """The canonical ContentType without parameters."""
        return ct.canonical(self.content_type.split(";")[0].strip())

    @property
    def input_path(self) -> jsonpath.JsonPath | None:
        """The parsed InputFilter, or None when it selects everything."""
        return _parse("InputFilter", self.input_filter)

    @property
    def output_path(self) -> jsonpath.JsonPath | None:
        """The parsed OutputFilter, or None when it keeps everything."""
        return _parse("OutputFilter", self.output_filter)

    @property
    def joins(self) -> bool:
        """True when JoinSource=Input."""
        return self.join_source == "Input"

    @property
    def uses_data_processing(self) -> bool:
        """True when any DataProcessing setting changes records."""
        return self.input_path is not None or self.output_path is not None or self.joins

    # ------------------------------------------------------------------ the container

    def batch_variables(self) -> dict[str, str]:
        """The variables SageMaker sets on a transform container: always SAGEMAKER_BATCH, and
        the payload, strategy and concurrency only when the job sets them (contract doc)."""
        variables = {env_names.BATCH: "true"}
        if self.max_payload_mb is not None:
            variables[env_names.MAX_PAYLOAD_IN_MB] = str(self.max_payload_mb)
        if self.batch_strategy is not None:
            variables[env_names.BATCH_STRATEGY] = env_names.BATCH_STRATEGY_ENV[self.batch_strategy]
        if self.max_concurrent_transforms is not None:
            variables[env_names.MAX_CONCURRENT_TRANSFORMS] = str(self.max_concurrent_transforms)
        return variables

    # ------------------------------------------------------------------ the requests

    def request(self, name: str, model_name: str, input_uri: str, output_uri: str, *,
                instance_type: str) -> dict[str, Any]:
        """The CreateTransformJob request for this job over an S3 prefix (pure)."""
        request: dict[str, Any] = {"TransformJobName": name, "ModelName": model_name}
        if self.batch_strategy is not None:
            request["BatchStrategy"] = self.batch_strategy
        if self.max_payload_mb is not None:
            request["MaxPayloadInMB"] = self.max_payload_mb
        if self.max_concurrent_transforms is not None:
            request["MaxConcurrentTransforms"] = self.max_concurrent_transforms
        client: dict[str, int] = {}
        if self.invocation_timeout_s is not None:
            client["InvocationsTimeoutInSeconds"] = self.invocation_timeout_s
        if self.invocation_retries is not None:
            client["InvocationsMaxRetries"] = self.invocation_retries
        if client:
            request["ModelClientConfig"] = client
        if self.environment:
            request["Environment"] = dict(self.environment)
        request["TransformInput"] = {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": self.content_type,
            "SplitType": self.split_type,
        }
        output: dict[str, Any] = {"S3OutputPath": output_uri,
                                  "AssembleWith": self.assemble_with}
        if self.accept:
            output["Accept"] = self.accept
        request["TransformOutput"] = output
        request["TransformResources"] = {"InstanceType": instance_type,
                                         "InstanceCount": self.instance_count}
        processing: dict[str, str] = {}
        if self.input_filter:
            processing["InputFilter"] = self.input_filter
        if self.output_filter:
            processing["OutputFilter"] = self.output_filter
        if self.join_source != "None":
            processing["JoinSource"] = self.join_source
        if processing:
            request["DataProcessing"] = processing
        return request

    def definition(self, input_uri: str, output_uri: str) -> dict[str, Any]:
        """The TransformJobDefinition of a model package's validation profile (pure): the
        parts of ``request`` a definition has. It has no DataProcessing or ModelClientConfig,
        so a job that sets them is refused (ValueError: the spec cannot express them)."""
        request = self.request("", "", input_uri, output_uri,
                               instance_type=self.instance_type or DEFAULT_INSTANCE_TYPE)
        extra = set(request) & {"DataProcessing", "ModelClientConfig"}
        if extra:
            raise ValueError(f"a TransformJobDefinition cannot carry {', '.join(sorted(extra))}")
        definition = {k: v for k, v in request.items() if k in _DEFINITION_KEYS}
        # smkit has always sent CompressionType here; it is part of the request hashed into
        # publish's idempotency key, so leaving it out would re-create published packages.
        definition["TransformInput"]["CompressionType"] = "None"
        return definition

    # ------------------------------------------------------------------ local runs

    def to_config(self, inputs: Sequence[Path], output_dir: Path, *,
                  files: list[tuple[Path, Path]] | None = None, keep_going: bool = False,
                  placeholder: str | None = None, progress: bool | None = None,
                  environment: Mapping[str, str] | None = None) -> TransformConfig:
        """This job run by smkit's runner over local files (one instance's share: ``files``).

        ``keep_going``, ``placeholder`` and ``progress`` are smkit's own (SageMaker has no
        such settings); ``environment`` is the model package's container environment, under
        the job's own (``container_environment``).
        """
        return TransformConfig(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(TransformJob)},
            inputs=list(inputs), output_dir=Path(output_dir), files=files,
            keep_going=keep_going, placeholder=placeholder, progress=progress,
            package_environment=dict(environment or {}))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: The top-level keys of a TransformJobDefinition (SageMaker API reference).
_DEFINITION_KEYS = ("BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms", "Environment",
                    "TransformInput", "TransformOutput", "TransformResources")


def input_files(inputs: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Each input file with its output name relative to the output folder.

    Directories contribute every regular file inside (recursively, sorted, dotfiles
    skipped), keeping sub-folders, like objects under an S3 prefix.
    """
    found: list[tuple[Path, Path]] = []
    for raw in inputs:
        root = Path(raw)
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                rel = path.relative_to(root)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                found.append((path, rel.with_name(rel.name + ".out")))
        else:
            found.append((root, Path(root.name + ".out")))
    return found


@dataclass(frozen=True, kw_only=True)
class TransformConfig(TransformJob):
    """A ``TransformJob`` run by smkit's runner over local files, with smkit's own settings."""

    #: Input files and/or directories (every file inside, recursively, sorted; dotfiles skipped).
    inputs: list[Path]
    #: Where ``<input name>.out`` files go (sub-folders of input directories are kept).
    output_dir: Path
    #: The exact (input file, output path relative to output_dir) pairs to transform; None
    #: lists ``inputs``. One instance of a sharded job gets its share of the files this way.
    files: list[tuple[Path, Path]] | None = None
    #: Write a placeholder for failed records instead of failing the file.
    keep_going: bool = False
    #: The placeholder record; None: ``ERROR`` for CSV, a JSON object with the error otherwise.
    placeholder: str | None = None
    #: Progress on stderr: None shows it on runs longer than a few seconds.
    progress: bool | None = None
    #: The model package's container environment, used when smkit starts the image itself.
    package_environment: dict[str, str] = field(default_factory=dict)

    @property
    def timeout_s(self) -> float:
        """Seconds one request may take (InvocationsTimeoutInSeconds, or SageMaker's 3600)."""
        return float(self.invocation_timeout_s if self.invocation_timeout_s is not None
                     else MAX_INVOCATION_TIMEOUT_S)

    @property
    def retries(self) -> int:
        """Times a request is sent again (InvocationsMaxRetries, or SageMaker's 3)."""
        return (self.invocation_retries if self.invocation_retries is not None
                else MAX_INVOCATION_RETRIES)

    @property
    def container_environment(self) -> dict[str, str]:
        """The environment of the container smkit starts for this run (SageMaker's merge)."""
        return container_environment(self.package_environment, self.environment,
                                     self.batch_variables())

    def input_files(self) -> list[tuple[Path, Path]]:
        """Each input file with its output name relative to ``output_dir``."""
        return list(self.files) if self.files is not None else input_files(self.inputs)

    def validate(self) -> None:
        """Check the job and the inputs; raise UserError naming the field and the fix."""
        super().validate()
        if self.files is not None:
            missing = [p for p, _ in self.files if not Path(p).is_file()]
            if missing:
                raise UserError(f"input {missing[0]} does not exist")
            return
        if not self.inputs:
            raise UserError("give at least one input file or directory")
        for p in self.inputs:
            if not Path(p).exists():
                raise UserError(f"input {p} does not exist")
