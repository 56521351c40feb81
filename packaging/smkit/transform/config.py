"""The transform job's parameters, their validation and SageMaker's precedence rules.

Precedence (contract doc, "Batch transform"): what the request says, then what the container
answers on ``/execution-parameters``, then the defaults (BatchStrategy MultiRecord,
MaxPayloadInMB 6, MaxConcurrentTransforms 1), with MaxConcurrentTransforms x MaxPayloadInMB
<= 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smkit_contract.content_types as ct
import smkit_contract.limits as limits

from smkit.core.errors import UserError
from smkit.transform import jsonpath

SPLIT_TYPES = ("None", "Line")
STRATEGIES = ("MultiRecord", "SingleRecord")
ASSEMBLE = ("None", "Line")
JOIN_SOURCES = ("None", "Input")
#: Formats whose records the DataProcessing filters can read.
FILTERABLE = (ct.CSV, ct.JSON, ct.JSONLINES)
#: /execution-parameters and SAGEMAKER_BATCH_STRATEGY spell the strategies this way.
_ENV_STRATEGY = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}


@dataclass
class TransformConfig:
    """What a CreateTransformJob request says, for local files."""

    #: Input files and/or directories (every file inside, recursively, sorted; dotfiles skipped).
    inputs: list[Path]
    #: Where ``<input name>.out`` files go (sub-folders of input directories are kept).
    output_dir: Path
    #: TransformInput.ContentType, sent as Content-Type.
    content_type: str = ct.CSV
    #: TransformOutput.Accept; None sends no Accept and lets the container decide.
    accept: str | None = None
    #: TransformInput.SplitType: "None" (a whole file per request) or "Line".
    split_type: str = "Line"
    #: None asks /execution-parameters (then MultiRecord); or "MultiRecord" / "SingleRecord".
    batch_strategy: str | None = None
    #: None asks /execution-parameters (then 6); 0 streams each request with chunked encoding
    #: (then a mini-batch has no size limit; JoinSource=Input holds its records to join them).
    max_payload_mb: int | None = None
    #: None asks /execution-parameters (then 1).
    max_concurrent_transforms: int | None = None
    #: TransformOutput.AssembleWith: "Line" puts a newline after every response.
    assemble_with: str = "Line"
    #: DataProcessing.InputFilter (JSONPath subset), None or "$" for the whole record.
    input_filter: str | None = None
    #: DataProcessing.JoinSource: "None" or "Input".
    join_source: str = "None"
    #: DataProcessing.OutputFilter (JSONPath subset), None or "$" for the whole record.
    output_filter: str | None = None
    #: Write a placeholder for failed records instead of failing the file.
    keep_going: bool = False
    #: The placeholder record; None: ``ERROR`` for CSV, a JSON object with the error otherwise.
    placeholder: str | None = None
    #: Seconds one request may take (InvocationsTimeoutInSeconds; at most 3600).
    invocation_timeout_s: float = 3600
    #: Times a request is sent again after no answer or a 5xx, as SageMaker's
    #: InvocationsMaxRetries (0 to 3, default 3); never after a 4xx.
    connection_retries: int = 3
    #: Progress on stderr: None shows it on runs longer than a few seconds.
    progress: bool | None = None
    #: Extra container environment, used when smkit starts the image itself.
    environment: dict[str, str] = field(default_factory=dict)
    #: The exact (input file, output path relative to output_dir) pairs to transform; None
    #: lists ``inputs``. One instance of a sharded job gets its share of the files this way.
    files: list[tuple[Path, Path]] | None = None

    def input_files(self) -> list[tuple[Path, Path]]:
        """Each input file with its output name relative to ``output_dir``."""
        from smkit.transform.records import input_files

        return list(self.files) if self.files is not None else input_files(self.inputs)

    def validate(self) -> None:
        """Check every field and the inputs; raise UserError naming the field and the fix."""
        self.validate_parameters()
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

    def validate_parameters(self) -> None:
        """Check the job's parameters (not the inputs); raise UserError naming the fix."""
        if self.split_type not in SPLIT_TYPES:
            raise UserError(
                f"SplitType {self.split_type!r} is not supported here; use None or Line "
                "(RecordIO and TFRecord are not implemented)"
            )
        if self.batch_strategy is not None and self.batch_strategy not in STRATEGIES:
            raise UserError(f"BatchStrategy {self.batch_strategy!r} must be MultiRecord or "
                            "SingleRecord")
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
        if not 1 <= self.invocation_timeout_s <= 3600:
            raise UserError("the invocation timeout must be 1 to 3600 seconds")
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

    @property
    def media_type(self) -> str:
        """The canonical ContentType without parameters."""
        return ct.canonical(self.content_type.split(";")[0])

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


def _parse(name: str, text: str | None) -> jsonpath.JsonPath | None:
    if text is None or not text.strip():
        return None
    try:
        path = jsonpath.parse(text)
    except jsonpath.JsonPathError as e:
        raise UserError(f"{name} {e}") from None
    return None if path.is_root else path


@dataclass(frozen=True)
class Resolved:
    """The effective parameters after precedence, and where each came from."""

    batch_strategy: str
    max_payload_mb: int
    max_concurrent_transforms: int
    #: "request", "container" or "default" for each of the three, in that order.
    sources: tuple[str, str, str]

    @property
    def max_payload_bytes(self) -> int | None:
        """The mini-batch limit in bytes; None when MaxPayloadInMB is 0 (streamed)."""
        return self.max_payload_mb * limits.MB if self.max_payload_mb else None


def resolve(cfg: TransformConfig, execution_parameters: dict[str, Any] | None) -> Resolved:
    """Apply request > container > defaults, then keep concurrency x payload <= 100."""
    params = execution_parameters or {}

    def pick(requested: Any, key: str, default: Any, convert: Any) -> tuple[Any, str]:
        if requested is not None:
            return requested, "request"
        if key in params:
            try:
                return convert(params[key]), "container"
            except (TypeError, ValueError, KeyError):
                pass
        return default, "default"

    def strategy(value: Any) -> str:
        text = str(value)
        return _ENV_STRATEGY.get(text.upper(), text) if text not in STRATEGIES else text

    batch, s_src = pick(cfg.batch_strategy, "BatchStrategy", "MultiRecord", strategy)
    if batch not in STRATEGIES:
        batch, s_src = "MultiRecord", "default"
    payload, p_src = pick(cfg.max_payload_mb, "MaxPayloadInMB",
                          limits.DEFAULT_BATCH_PAYLOAD_MB, int)
    payload = min(max(int(payload), 0), limits.BATCH_MAX_PAYLOAD_MB)
    concurrency, c_src = pick(cfg.max_concurrent_transforms, "MaxConcurrentTransforms", 1, int)
    concurrency = max(int(concurrency), 1)
    cap = limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT
    if payload and payload * concurrency > cap:
        # Lower whichever value the request did not fix (validate() refused both fixed).
        if c_src != "request":
            concurrency = max(1, cap // payload)
        else:
            payload = max(1, cap // concurrency)
    return Resolved(batch, payload, concurrency, (s_src, p_src, c_src))
