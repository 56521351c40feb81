"""One suffix-to-content-type table (smkit_contract.content_types): `smkit local` tells a
body's type by it, .npy included, and `smkit listing init` takes a text sample by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from smkit.cli.local import guess_content_type
from smkit.core.errors import UserError
from smkit.listing import starter


@pytest.mark.parametrize(("name", "expected"), [
    ("body.csv", "text/csv"), ("body.JSON", "application/json"),
    ("body.jsonl", "application/jsonlines"), ("body.jsonlines", "application/jsonlines"),
    ("body.npy", "application/x-npy")])
def test_local_tells_the_type_by_the_suffix(name: str, expected: str) -> None:
    assert guess_content_type(Path(name)) == expected


def test_an_unknown_suffix_asks_for_the_content_type() -> None:
    with pytest.raises(UserError, match="pass --content-type"):
        guess_content_type(Path("body.txt"))


def test_listing_init_takes_a_jsonl_sample_and_passes_over_a_binary_one(tmp_path: Path) -> None:
    np.save(tmp_path / "sample_input.npy", np.zeros((1, 4)))
    with pytest.raises(UserError, match="no sample input"):
        starter._sample(tmp_path, {}, None, "classification", "application/jsonlines")
    (tmp_path / "sample_input.jsonl").write_text("[1, 2, 3, 4]\n")
    assert starter._sample(tmp_path, {}, None, "classification",
                           "application/jsonlines") == b"[1, 2, 3, 4]"
