"""The image serves the disaster-tweet pipeline of issue 13 from a raw ``docker run`` with
a model folder and no sample file: healthy, and right on quoted UTF-8 CSV and JSON Lines."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import orjson
import pandas as pd
import pytest
from signature_models import TRICKY_TEXTS, fitted_tweet_model, tweet_frame

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def tweet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tweets")
    root.chmod(0o755)
    joblib.dump(fitted_tweet_model("tfidf"), root / "model.joblib")
    (root / "model.joblib").chmod(0o644)
    return root


def test_a_raw_docker_run_of_the_tweet_pipeline_is_healthy_and_predicts(
    container_factory, tweet_dir: Path
) -> None:
    c = container_factory(tweet_dir)
    assert c.ping_status == 200
    frame, _ = tweet_frame(n=10, seed=4)
    frame.loc[: len(TRICKY_TEXTS) - 1, "text"] = TRICKY_TEXTS
    body = frame.to_csv(header=False, index=False).encode()
    oracle = pd.read_csv(io.BytesIO(body), header=None, names=["keyword", "location", "text"],
                         keep_default_na=False, na_values=[""])
    expected = joblib.load(tweet_dir / "model.joblib").predict(oracle).tolist()
    r = c.post(body, "text/csv; charset=utf-8")
    assert r.status_code == 200, r.text
    assert [int(v) for v in r.text.split("\n")] == expected

    lines = b"\n".join(orjson.dumps({k: (None if pd.isna(v) else v) for k, v in rec.items()})
                       for rec in frame.to_dict(orient="records"))
    r = c.post(lines, "application/jsonlines", accept="application/jsonlines")
    assert r.status_code == 200, r.text
    assert [orjson.loads(x) for x in r.content.split(b"\n")] == expected


def test_records_with_an_unknown_column_name_it(container_factory, tweet_dir: Path) -> None:
    c = container_factory(tweet_dir)
    r = c.post(orjson.dumps([{"keyword": "fire", "location": None, "txt": "smoke"}]),
               "application/json")
    assert r.status_code == 400
    assert "'txt', which is not a column" in r.json()["error"]
