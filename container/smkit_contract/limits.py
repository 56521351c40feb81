"""SageMaker's size and time limits, as the server and the tooling enforce them."""

from __future__ import annotations

MB = 1024 * 1024

#: Largest request body on a real-time endpoint.
REALTIME_MAX_PAYLOAD_MB = 6
#: Largest mini-batch SageMaker batch transform allows (MaxPayloadInMB).
BATCH_MAX_PAYLOAD_MB = 100
#: MaxConcurrentTransforms x MaxPayloadInMB may not exceed this.
BATCH_CONCURRENCY_PAYLOAD_PRODUCT = 100
#: Default MaxPayloadInMB when neither the job nor the container says.
DEFAULT_BATCH_PAYLOAD_MB = 6
#: SageMaker sends SIGKILL this long after SIGTERM.
SIGTERM_GRACE_SECONDS = 30
#: Each /ping must answer within this.
PING_TIMEOUT_SECONDS = 2
#: The container must accept a connection within this.
ACCEPT_LIMIT_SECONDS = 0.25
#: Each /invocations must answer within this (real-time endpoints).
INVOCATION_LIMIT_SECONDS = 60
#: The container must be healthy this long after start.
STARTUP_LIMIT_SECONDS = 240
#: X-Amzn-SageMaker-Custom-Attributes carries at most this many characters.
CUSTOM_ATTRIBUTES_MAX_CHARS = 1024

#: Response header AWS Marketplace bills per-inference products from (2XX responses only).
METERING_HEADER = "X-Amzn-Inference-Metering"
#: The pricing dimension a per-inference product's container reports.
METERING_DIMENSION = "inference.count"
