"""The instance types a product offers, for real-time endpoints and for batch transform.

One model for both files that list them: ``smkit.yaml`` (``instance_types``, which calls the
batch list ``transform``, as SageMaker's ``SupportedTransformInstanceTypes`` does) and
``listing.yaml`` (``delivery.supported_instance_types``, which calls it ``batch``, as the
Catalog's ``BatchTransform`` does). Either spelling is read in either file, and an error
names the key the user wrote. What makes one type valid is the file's own rule, given as the
model's type parameters: ``InstanceTypes[RealtimeType, TransformType]`` in the spec (known
SageMaker types, CPU and x86 only), ``InstanceTypes[InstanceType, InstanceType]`` in the
listing (the shape of an ``ml.*`` name).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

#: The batch list's two spellings: the spec's first (SageMaker's word), then the listing's.
BATCH_KEYS = ("transform", "batch")

Realtime = TypeVar("Realtime")
Batch = TypeVar("Batch")


class InstanceTypes(BaseModel, Generic[Realtime, Batch]):
    """Instance types buyers may choose, separately for real-time endpoints and batch
    transform; each list holds at least one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    realtime: list[Realtime] = Field(min_length=1)
    #: The batch transform types, written ``transform`` (smkit.yaml) or ``batch`` (listing.yaml).
    transform: list[Batch] = Field(min_length=1, validation_alias=AliasChoices(*BATCH_KEYS))

    @property
    def batch(self) -> list[Batch]:
        """The batch transform types, by the listing's name for them."""
        return self.transform

    @model_validator(mode="before")
    @classmethod
    def _one_batch_key(cls, data: Any) -> Any:
        """The batch list is given once, under either spelling (a missing one names both)."""
        if isinstance(data, dict):
            given = [k for k in BATCH_KEYS if k in data]
            if len(given) > 1:
                raise ValueError("give the batch transform instance types once, as "
                                 "`transform` or as `batch`, not both")
            if not given:
                raise ValueError("the batch transform instance types are missing: list them "
                                 "under `transform` (smkit.yaml's name) or `batch` "
                                 "(listing.yaml's); either name works in both files")
        return data
