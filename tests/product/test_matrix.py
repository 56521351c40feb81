"""Issue 12 items 4 and 8: product images across the versions sellers have.

For each training environment (``venvkit.ENVS``: the oldest scikit-learn with CPython 3.11
wheels on numpy 1.x, a year-old one, the newest on numpy 2.x; with category_encoders, the
seller's own module, catboost, xgboost, lightgbm, imbalanced-learn and skops) the models are
trained in a venv of their own and saved as sellers save them (``joblib.dump``, plain
``pickle.dump``, ``skops.io.dump``), ``smkit build`` makes the product image from a spec naming
the same pins, and every model is served from it under ``--network none``. Each answer must
be what the same model predicted where it was trained, on the same rows: labels equal,
probabilities and regression values to 1e-7. Requests go as CSV, one large body (over the
server's bulk-CSV threshold where the data allow) and a small one (its orjson path), and as
JSON. Every model keeps its library's thread settings at their defaults, as sellers train
(issue 23: a LightGBM model at its default ``n_jobs`` hung every worker), except the
``*_all_cores`` variants (``n_jobs=-1``); the thread-pool cases with 1, 2 and 4 workers and
the batch transforms are in test_thread_pools.py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from productkit import PROBABILITIES, Built, assert_same, invoke
from smkit.image import docker
from smkit_contract import names
from venvkit import ENVS, Trained, TrainedModel

pytestmark = pytest.mark.container

#: Cases that fail today for a reason outside these tests; strict, so a fix shows up.
#: (environment, model) -> why it is expected to fail; strict, so a fix is noticed.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
CASES = [
    pytest.param(env.name, model, id=f"{env.name}-{model}", marks=[pytest.mark.xfail(
        strict=True, reason=KNOWN_FAILURES[env.name, model])]
        if (env.name, model) in KNOWN_FAILURES else [])
    for env in ENVS.values() for model in env.models
]
#: Rows of the small request: well under the bulk-CSV threshold (64 KB).
SMALL_ROWS = 7


def _small(body: bytes) -> bytes:
    return b"\n".join(body.split(b"\n")[:SMALL_ROWS])


def _cell(text: str) -> float | str | None:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _as_json(body: bytes) -> bytes:
    """The CSV rows as ``{"instances": [[...], ...]}``: numbers, strings, null for missing."""
    rows = csv.reader(io.StringIO(body.decode()))
    return json.dumps({"instances": [[_cell(c) for c in row] for row in rows]}).encode()


@pytest.mark.parametrize(("env_name", "model_name"), CASES)
def test_served_predictions_equal_training_venv(
    env_name: str, model_name: str, trained: Callable[[str], Trained],
    product_image: Callable[[str], Built],
) -> None:
    """The product image, offline, predicts exactly what the training venv predicted."""
    model: TrainedModel = trained(env_name).models[model_name]
    image = product_image(env_name).image
    expected = model.expected
    body = model.input_csv.read_bytes()
    assert body.count(b"\n") + 1 == expected["rows"]
    # The file the seller saved is the one the server loads (the format is really served).
    assert names.model_file(model.model_dir).name == expected["file"]
    with docker.serve(image, model.model_dir, network="none", startup_timeout=90) as server:
        assert_same(invoke(server, body), expected["predictions"],
                    expected["predictions_dtype"], f"{model_name} predictions")
        assert_same(invoke(server, _as_json(body), content_type="application/json"),
                    expected["predictions"], expected["predictions_dtype"],
                    f"{model_name} predictions, JSON request")
        n = min(SMALL_ROWS, expected["rows"])
        assert_same(invoke(server, _small(body)), expected["predictions"][:n],
                    expected["predictions_dtype"], f"{model_name} predictions, {n} rows")
        if expected["probabilities"] is not None:
            assert_same(invoke(server, body, PROBABILITIES), expected["probabilities"],
                        expected["probabilities_dtype"], f"{model_name} probabilities")
            assert_same(invoke(server, _small(body), PROBABILITIES),
                        expected["probabilities"][:n], expected["probabilities_dtype"],
                        f"{model_name} probabilities, {n} rows")


@pytest.mark.parametrize("env_name", list(ENVS))
def test_image_has_the_training_versions(
    env_name: str, trained: Callable[[str], Trained], product_image: Callable[[str], Built],
) -> None:
    """The image holds the very versions the seller trained with (the matrix is real)."""
    env = ENVS[env_name]
    venv_versions = trained(env_name).versions
    proc = docker.docker("run", "--rm", "--network", "none", "--entrypoint", "cat",
                         product_image(env_name).image, "/opt/smkit/versions.json")
    inside = json.loads(proc.stdout)
    assert inside["python"].startswith("3.11.")
    image_versions = {k.lower().replace("_", "-"): v for k, v in inside["packages"].items()}
    for pin in env.pins:
        name, _, version = pin.partition("==")
        key = name.lower().replace("_", "-")
        assert venv_versions[key] == version, f"training venv has {key} {venv_versions[key]}"
        assert image_versions.get(key) == version, (
            f"{env_name}: the image has {key} {image_versions.get(key)}, the seller pinned "
            f"{version}"
        )

