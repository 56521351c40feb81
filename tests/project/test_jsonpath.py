"""The JSONPath subset of InputFilter/OutputFilter (contract doc, "Data processing")."""

from __future__ import annotations

import re

import pytest
from smkit.project import jsonpath


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("$", [1, 2, 3], [1, 2, 3]),
        ("$[1:]", ["id", "5.1", "3.5"], ["5.1", "3.5"]),
        ("$[0,-1]", ["id", "5.1", "3.5", "0"], ["id", "0"]),
        ("$[:2]", [1, 2, 3], [1, 2]),
        ("$[1:3]", [1, 2, 3, 4], [2, 3]),
        ("$[-1]", [1, 2, 3], 3),
        ("$[0,2:]", [1, 2, 3, 4], [1, 3, 4]),
        ("$.features", {"id": 7, "features": [1.0, 2.0]}, [1.0, 2.0]),
        ("$['features']", {"id": 7, "features": [1.0, 2.0]}, [1.0, 2.0]),
        ("$.features[0]", {"features": [1.0, 2.0]}, 1.0),
        ("$['id','SageMakerOutput']", {"id": 7, "x": 1, "SageMakerOutput": 2},
         {"id": 7, "SageMakerOutput": 2}),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
        ("$[*]", [1, 2], [1, 2]),
        ("$.SageMakerOutput.predictions[0]", {"SageMakerOutput": {"predictions": [5]}}, 5),
    ],
)
def test_a_supported_path_selects_what_sagemaker_documents(expr, value, expected):
    assert jsonpath.parse(expr).apply(value) == expected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("[1:]", "must start with '$'"),
        ("$..id", "deep scan"),
        ("$[?(@.a>1)]", "filter and script"),
        ("$[1:2:3]", "slice"),
        ("$[abc]", "not an index"),
        ("$[1", "never closed"),
        ("$.", "expected a name"),
    ],
)
def test_an_unsupported_path_is_refused_with_the_reason(expr, fragment):
    with pytest.raises(jsonpath.JsonPathError, match=re.escape(fragment)):
        jsonpath.parse(expr)


def test_an_index_out_of_range_is_an_error_not_an_empty_match():
    with pytest.raises(jsonpath.FilterError, match="index 5 is out of range"):
        jsonpath.parse("$[0,5]").apply([1, 2])


def test_a_missing_key_names_the_keys_the_record_has():
    with pytest.raises(jsonpath.FilterError, match=r"no key 'features' \(keys: id, x\)"):
        jsonpath.parse("$.features").apply({"id": 1, "x": 2})


def test_index_only_tells_csv_usable_paths_apart():
    assert jsonpath.parse("$[1:]").index_only
    assert jsonpath.parse("$[0,-1]").index_only
    assert not jsonpath.parse("$.features").index_only
    assert jsonpath.parse("$").is_root
