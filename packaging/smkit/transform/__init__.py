"""smkit's own batch transform: a ``TransformJob`` run against a container.

``run_transform`` talks to a running server; ``run_transform_with_image`` starts the image
with the environment SageMaker gives a transform container, then runs it. The job and its
local configuration are ``smkit.project.transform_job``'s.
"""

from __future__ import annotations

from smkit.project.transform_job import TransformConfig, TransformJob
from smkit.transform.config import Resolved, resolve
from smkit.transform.image import run_transform_with_image
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
    "TransformJob",
    "TransformReport",
    "execution_parameters",
    "resolve",
    "run_transform",
    "run_transform_with_image",
]
