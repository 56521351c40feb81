"""SageMaker's precedence rules for the three batch parameters a container may answer.

Precedence (contract doc, "Batch transform"): what the request says, then what the container
answers on ``/execution-parameters``, then the defaults (BatchStrategy MultiRecord,
MaxPayloadInMB 6, MaxConcurrentTransforms 1), with MaxConcurrentTransforms x MaxPayloadInMB
<= 100. The job itself is ``smkit.project.transform_job.TransformJob``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import smkit_contract.env as env_names
import smkit_contract.limits as limits

from smkit.project.transform_job import TransformJob


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


def resolve(cfg: TransformJob, execution_parameters: dict[str, Any] | None) -> Resolved:
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
        if text in env_names.BATCH_STRATEGIES:
            return text
        return env_names.BATCH_STRATEGY_FROM_ENV.get(text.upper(), text)

    batch, s_src = pick(cfg.batch_strategy, "BatchStrategy", env_names.MULTI_RECORD, strategy)
    if batch not in env_names.BATCH_STRATEGIES:
        batch, s_src = env_names.MULTI_RECORD, "default"
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
