"""The buyer's sample notebook runs end to end with no data and nothing to fill in (moto)."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from listing_kit import ROLE_ARN, Server, create_package
from smkit.listing.notebook import build_notebook

SAMPLE = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"


def test_the_notebook_deploys_invokes_with_its_own_sample_and_cleans_up(
        moto: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = create_package(moto.url, "iris-notebook", realtime=["ml.m5.large"],
                         batch=["ml.m5.large"])
    notebook = build_notebook(title="Iris", model_package_arn=arn, sample_input=SAMPLE,
                              content_type="text/csv", instance_type="ml.m5.large")
    document = json.loads(json.dumps(notebook))  # what a .ipynb file holds
    assert document["nbformat"] == 4
    code = ["".join(c["source"]) for c in document["cells"] if c["cell_type"] == "code"]
    text = "\n".join(code)
    assert not re.search(r"TODO|<your|REPLACE", text)
    assert json.dumps(SAMPLE) in text
    assert json.dumps(arn) in text

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", ROLE_ARN)
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for source in code:
            exec(compile(source, "<notebook cell>", "exec"), namespace)
    out = printed.getvalue()
    assert "is in service" in out
    assert f"input:\n{SAMPLE}\nprediction:" in out
    assert re.search(r"deleted smkit-sample-\d+", out)
