"""One InstanceTypes model for smkit.yaml (``transform``) and listing.yaml (``batch``): either
spelling is read, each file keeps its own rule for a type, and errors name the key written
(the listing's side: tests/listing/test_model.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pkg_helpers import base_spec
from pydantic import BaseModel, ValidationError
from smkit.core.errors import UserError
from smkit.project import spec_yaml
from smkit.project.instance_types import InstanceTypes


class _Holder(BaseModel):
    types: InstanceTypes[str, str]


def _errors(types: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"types": types})
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize("key", ["transform", "batch"])
def test_either_spelling_of_the_batch_list_is_read(key: str) -> None:
    types = _Holder.model_validate({"types": {"realtime": ["a"], key: ["b", "c"]}}).types
    assert types.transform == ["b", "c"]
    assert types.batch == ["b", "c"]


@pytest.mark.parametrize("key", ["transform", "batch"])
def test_an_empty_batch_list_is_refused_under_the_key_written(key: str) -> None:
    [(loc, msg)] = _errors({"realtime": ["a"], key: []})
    assert loc == ("types", key)
    assert "at least 1 item" in msg


def test_both_spellings_at_once_are_refused() -> None:
    [(loc, msg)] = _errors({"realtime": ["a"], "transform": ["b"], "batch": ["c"]})
    assert loc == ("types",)
    assert "not both" in msg


def test_a_missing_batch_list_names_both_spellings() -> None:
    [(loc, msg)] = _errors({"realtime": ["a"]})
    assert loc == ("types",)
    assert "`transform`" in msg
    assert "`batch`" in msg


def test_an_unknown_key_is_still_refused() -> None:
    errors = _errors({"realtime": ["a"], "transform": ["b"], "batchh": ["c"]})
    assert errors == [(("types", "batchh"), "Extra inputs are not permitted")]


# ----------------------------------------------------------------------------- smkit.yaml


def _spec(spec_dir: Path, types: dict[str, Any]) -> Any:
    data = copy.deepcopy(base_spec("iris-test", "smkit-inference:latest"))
    data["instance_types"] = types
    return spec_yaml.parse(data, spec_dir)


def test_the_spec_reads_the_listings_spelling_and_keeps_its_own_rule(spec_dir: Path) -> None:
    spec = _spec(spec_dir, {"realtime": ["ml.m5.large"], "batch": ["ml.m5.large"]})
    assert spec.instance_types.transform == ["ml.m5.large"]
    # The spec's rule (known SageMaker types, CPU only) holds under either key, named as written.
    with pytest.raises(UserError, match=r"instance_types\.batch\[0\]: 'ml\.g5\.xlarge' is a "
                                        "GPU/accelerator type"):
        _spec(spec_dir, {"realtime": ["ml.m5.large"], "batch": ["ml.g5.xlarge"]})


def test_the_spec_says_a_missing_transform_list_is_missing(spec_dir: Path) -> None:
    with pytest.raises(UserError, match=r"instance_types: the batch transform instance types "
                                        "are missing: list them under `transform`"):
        _spec(spec_dir, {"realtime": ["ml.m5.large"]})
