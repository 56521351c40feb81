"""Both notebooks run end to end (nbclient, the project's venv kernel); any failing cell
fails the test. They share the demo's emulators and model package."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from wheel_kit import REPO, DemoRun

pytestmark = pytest.mark.container
NOTEBOOKS = REPO / "notebooks"


def execute(name: str) -> nbformat.NotebookNode:
    """Run every cell of ``notebooks/NAME`` in a fresh kernel; raise on the first failure."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # One more cell, in this copy only: which Python ran the kernel.
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    kernel_python = nb.cells[-1].outputs[0]["text"].strip()
    assert Path(kernel_python).resolve() == Path(sys.executable).resolve(), kernel_python
    return nb


def outputs(nb: nbformat.NotebookNode) -> str:
    """Everything the cells printed."""
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))


def test_notebooks_are_committed_without_outputs() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], path.name
                assert cell.execution_count is None, path.name


def test_the_seller_notebook_publishes_a_package_and_a_listing(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMKIT_SELLER_DIR", str(tmp_path / "seller"))
    nb = execute("01_seller_publish.ipynb")
    text = outputs(nb)
    arn = (tmp_path / "seller" / "model_package_arn.txt").read_text()
    assert arn.startswith("arn:aws:sagemaker:us-east-1:123456789012:model-package/wine-")
    assert "published: product prod-" in text
    assert (tmp_path / "seller" / "listing" / "preview.html").is_file()
    # The notebook's local transform answers what the model it trained answers itself.
    seller = tmp_path / "seller"
    expected = own_predictions(seller / "model" / "model.joblib", seller / "validation" /
                               "input.csv")
    assert (seller / "local-transform" / "input.csv.out").read_text().splitlines() == expected
    assert "smkit-product:" in text  # it built and ran the model's product image


def own_predictions(model_file: Path, rows: Path) -> list[str]:
    """What the trained model itself predicts for a headerless CSV of its features."""
    import joblib
    import pandas as pd

    model = joblib.load(model_file)
    frame = pd.read_csv(rows, header=None)
    frame.columns = list(model.feature_names_in_)
    return [str(v) for v in model.predict(frame)]


def test_the_buyer_notebook_runs_a_transform_and_an_endpoint_from_the_arn(
        demo_run: DemoRun, demo_env: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMKIT_MODEL_PACKAGE_ARN", demo_run.fact("model package"))
    monkeypatch.setenv("SMKIT_BUYER_DIR", str(tmp_path / "buyer"))
    nb = execute("02_buyer_batch_transform.ipynb")
    text = outputs(nb)
    assert "created with network isolation" in text
    predictions = (tmp_path / "buyer" / "output" / "sample.csv.out").read_text().splitlines()
    assert len(predictions) == 6
    assert predictions == own_predictions(demo_run.out / "model" / "model.joblib",
                                          tmp_path / "buyer" / "input" / "sample.csv")
    assert '"predictions"' in text
