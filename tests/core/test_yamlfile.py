"""One YAML loader: every file smkit reads says in one format which file, where, and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml


def error(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_yaml(path, what="spec file", missing="create one with `smkit spec init`")
    return str(info.value)


def test_broken_yaml_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "smkit.yaml"
    path.write_text("name: x\nregion: us-east-1\ndescription: a: b\n")
    assert error(path) == (f"spec file {path} is not valid YAML at line 3, column 15: mapping "
                           "values are not allowed here; fix the YAML there")


def test_an_unclosed_list_says_what_was_open(tmp_path: Path) -> None:
    path = tmp_path / "smkit.yaml"
    path.write_text("name: x\nregion: [us-east-1\n")
    assert error(path).startswith(f"spec file {path} is not valid YAML at line 3, column 1: "
                                  "while parsing a flow sequence, expected ',' or ']'")


def test_a_missing_file_gets_the_callers_advice(tmp_path: Path) -> None:
    assert error(tmp_path / "smkit.yml") == (f"spec file {tmp_path / 'smkit.yml'} does not "
                                             "exist; create one with `smkit spec init`")


def test_a_folder_or_a_binary_file_cannot_be_read(tmp_path: Path) -> None:
    assert error(tmp_path).startswith(f"spec file {tmp_path} cannot be read (")
    binary = tmp_path / "model.joblib"
    binary.write_bytes(b"\x80\x04\x95")
    assert error(binary).startswith(f"spec file {binary} cannot be read (")


def test_the_data_and_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: [1, 2]\n")
    assert load_yaml(path, what="x") == {"a": [1, 2]}
    path.write_text("")
    assert load_yaml(path, what="x") is None
