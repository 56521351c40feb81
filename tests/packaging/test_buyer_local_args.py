"""`buyer transform --local` refuses s3:// paths before anything is fetched, naming --cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from smkit import buyer
from smkit.errors import UserError

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/example"


def test_an_s3_input_is_named_as_such_not_as_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--local transforms local files.*--cloud"):
        buyer.local_transform(ARN, "s3://bucket/input/part-0.csv", tmp_path)


def test_an_s3_output_is_refused_with_the_same_advice(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("1,2\n")
    with pytest.raises(UserError, match=r"--local writes to a local --output.*--cloud"):
        buyer.local_transform(ARN, data, "s3://bucket/output/")
