"""Helpers for the packaging tests (importable as ``pkg_helpers``; no fixtures here)."""

from __future__ import annotations

import uuid
from typing import Any


def unique(prefix: str) -> str:
    """A name no other test uses (moto's state is shared by the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def base_spec(name: str, image: str) -> dict[str, Any]:
    """A valid spec dict for the iris model (paths relative to the spec file)."""
    return {
        "name": name,
        "region": "us-east-1",
        "description": "Iris species classifier",
        "model_dir": "model",
        "image": {"local": image, "repository": "smkit-test", "tag": "test"},
        "s3": {"bucket": name.lower(), "prefix": "smkit"},
        "content_types": ["text/csv", "application/json"],
        "response_types": ["text/csv", "application/json"],
        "instance_types": {"realtime": ["ml.m5.large", "ml.c5.xlarge"],
                           "transform": ["ml.m5.large"]},
        "validation": {"role": "arn:aws:iam::123456789012:role/SageMakerValidation",
                       "input": "validation/input.csv", "content_type": "text/csv"},
    }
