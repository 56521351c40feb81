"""Names of the environment variables the container reads, and the batch strategy names.

SageMaker sets the ``SAGEMAKER_*`` ones; ``SMKIT_*`` are smkit's own settings.
"""

from __future__ import annotations

from typing import Final, Literal

BIND_TO_PORT = "SAGEMAKER_BIND_TO_PORT"
#: The port the server listens on when SAGEMAKER_BIND_TO_PORT is not set.
DEFAULT_PORT = 8080
MODEL_SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
MODEL_SERVER_TIMEOUT = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
DEFAULT_INVOCATIONS_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
PROGRAM = "SAGEMAKER_PROGRAM"
BATCH = "SAGEMAKER_BATCH"
MAX_PAYLOAD_IN_MB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
BATCH_STRATEGY = "SAGEMAKER_BATCH_STRATEGY"
MAX_CONCURRENT_TRANSFORMS = "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"

MODEL_DIR = "SMKIT_MODEL_DIR"
DEFAULT_OUTPUT = "SMKIT_DEFAULT_OUTPUT"
WORKER_CLASS = "SMKIT_WORKER_CLASS"
THREADS = "SMKIT_THREADS"
ACCESS_LOG = "SMKIT_ACCESS_LOG"
LOG_LEVEL = "SMKIT_LOG_LEVEL"
GRACEFUL_TIMEOUT = "SMKIT_GRACEFUL_TIMEOUT"
METERING = "SMKIT_METERING"

#: BatchStrategy as the SageMaker API spells it (CreateTransformJob, the spec's validation).
BatchStrategy = Literal["MultiRecord", "SingleRecord"]
MULTI_RECORD: Final = "MultiRecord"
SINGLE_RECORD: Final = "SingleRecord"
#: Every strategy; the first is SageMaker's default.
BATCH_STRATEGIES: tuple[BatchStrategy, ...] = (MULTI_RECORD, SINGLE_RECORD)
#: The API spelling of each SAGEMAKER_BATCH_STRATEGY value (/execution-parameters spells
#: them the same way).
BATCH_STRATEGY_FROM_ENV: dict[str, BatchStrategy] = {
    "MULTI_RECORD": MULTI_RECORD,
    "SINGLE_RECORD": SINGLE_RECORD,
}
#: How SAGEMAKER_BATCH_STRATEGY spells each strategy (the inverse of the above).
BATCH_STRATEGY_ENV: dict[str, str] = {v: k for k, v in BATCH_STRATEGY_FROM_ENV.items()}
