"""One description of a batch transform job, from which both halves are built.

``TransformJob`` holds what a CreateTransformJob request says about the work (content types,
split, strategy, payload, concurrency, assembly, DataProcessing, retries and timeout, the
container environment, and the instances). ``to_config`` turns it into the local runner's
``TransformConfig`` and ``request`` into the CreateTransformJob dict, so a local rehearsal
and the cloud job cannot drift apart: a new field must be wired into both (the tests check
that every field changes both).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smkit_contract.content_types as ct

from smkit.core.errors import UserError
from smkit.transform.config import TransformConfig

SHARDED = "ShardedByS3Key"
REPLICATED = "FullyReplicated"
DISTRIBUTIONS = (SHARDED, REPLICATED)
#: ModelClientConfig bounds (CreateTransformJob API reference).
MAX_INVOCATION_TIMEOUT_S = 3600
MAX_INVOCATION_RETRIES = 3


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
    #: BatchStrategy: "MultiRecord" or "SingleRecord".
    batch_strategy: str | None = None
    #: MaxPayloadInMB (0 streams the body).
    max_payload_mb: int | None = None
    #: MaxConcurrentTransforms (requests in flight per instance).
    max_concurrent_transforms: int | None = None
    #: TransformOutput.AssembleWith: "None" or "Line".
    assemble_with: str = "Line"
    #: DataProcessing.InputFilter (JSONPath subset).
    input_filter: str | None = None
    #: DataProcessing.JoinSource: "None" or "Input".
    join_source: str = "None"
    #: DataProcessing.OutputFilter (JSONPath subset).
    output_filter: str | None = None
    #: ModelClientConfig.InvocationsTimeoutInSeconds (1 to 3600).
    invocation_timeout_s: int | None = None
    #: ModelClientConfig.InvocationsMaxRetries (0 to 3).
    invocation_retries: int | None = None
    #: Environment: variables for the container.
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
        self.to_config([], Path(".")).validate_parameters()

    def validate_for(self, *, content_types: Sequence[str], response_types: Sequence[str],
                     transform_types: Sequence[str]) -> str:
        """Check the job against what a model package supports (its lists may be empty: then
        anything goes); returns the instance type to use. UserError says what to change."""
        self.validate()
        media = ct.canonical(self.content_type.split(";")[0].strip())
        if content_types and media not in {ct.canonical(c) for c in content_types}:
            raise UserError(f"--content-type {self.content_type} is not supported by the model "
                            f"package; use one of {', '.join(content_types)}")
        if self.accept and response_types and ct.canonical(self.accept) not in {
                ct.canonical(c) for c in response_types}:
            raise UserError(f"--accept {self.accept} is not supported by the model package; "
                            f"use one of {', '.join(response_types)}")
        instance = self.instance_type or (transform_types[0] if transform_types
                                          else "ml.m5.large")
        if transform_types and instance not in transform_types:
            raise UserError(f"--instance-type {instance} is not supported by the model package "
                            f"for batch transform; use one of {', '.join(transform_types)}")
        return instance

    @property
    def uses_data_processing(self) -> bool:
        """True when the request carries a DataProcessing block that changes records."""
        return self.to_config([], Path(".")).uses_data_processing

    # ------------------------------------------------------------------ the two halves

    def to_config(self, inputs: Sequence[Path], output_dir: Path, *,
                  files: list[tuple[Path, Path]] | None = None, keep_going: bool = False,
                  placeholder: str | None = None, progress: bool | None = None,
                  environment: dict[str, str] | None = None) -> TransformConfig:
        """The local runner's configuration for this job (one instance's share: ``files``).

        ``keep_going``, ``placeholder`` and ``progress`` are smkit's own (SageMaker has no
        such settings); ``environment`` is added under the job's own variables (the model
        package's container environment, as SageMaker merges them).
        """
        extra: dict[str, Any] = {}
        if self.invocation_timeout_s is not None:
            extra["invocation_timeout_s"] = float(self.invocation_timeout_s)
        if self.invocation_retries is not None:
            extra["connection_retries"] = self.invocation_retries
        return TransformConfig(
            inputs=list(inputs), output_dir=Path(output_dir), content_type=self.content_type,
            accept=self.accept, split_type=self.split_type, batch_strategy=self.batch_strategy,
            max_payload_mb=self.max_payload_mb,
            max_concurrent_transforms=self.max_concurrent_transforms,
            assemble_with=self.assemble_with, input_filter=self.input_filter,
            join_source=self.join_source, output_filter=self.output_filter,
            keep_going=keep_going, placeholder=placeholder, progress=progress,
            environment={**(environment or {}), **self.environment}, files=files, **extra)

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

    def replace(self, **changes: Any) -> TransformJob:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

