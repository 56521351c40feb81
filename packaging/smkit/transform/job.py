"""Where ``TransformJob`` was imported from before it moved down to
``smkit.project.transform_job`` (the spec and publish need it below this layer); new code
imports it from there."""

from __future__ import annotations

from smkit.project.transform_job import DISTRIBUTIONS, REPLICATED, SHARDED, TransformJob

__all__ = ["DISTRIBUTIONS", "REPLICATED", "SHARDED", "TransformJob"]
