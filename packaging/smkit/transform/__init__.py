"""smkit's own batch transform: CreateTransformJob's parameters, run against a container.

``run_transform`` talks to a running server; ``run_transform_with_image`` starts the image
with the batch environment SageMaker sets, then runs it.
"""

from __future__ import annotations

from smkit.transform.config import Resolved, TransformConfig, resolve
from smkit.transform.image import batch_environment, run_transform_with_image
from smkit.transform.runner import (
    Failure,
    FileResult,
    TransformReport,
    execution_parameters,
    run_transform,
)

__all__ = [
    "Failure",
    "FileResult",
    "Resolved",
    "TransformConfig",
    "TransformReport",
    "batch_environment",
    "execution_parameters",
    "resolve",
    "run_transform",
    "run_transform_with_image",
]
