"""`make bench` scenario (issue 13, item 7): the disaster-tweet text pipeline over HTTP,
reported against that pipeline's in-process predict.

A Pipeline whose ColumnTransformer one-hot encodes ``keyword`` and ``location`` and runs a
TfidfVectorizer over free text (quoted CSV with commas, doubled quotes, accents and emoji),
then a LogisticRegression. The server (2 workers on the host, as bench/run.py serves the
other scenarios) is loaded with wrk in CSV and JSON records; predict is timed in-process on
one core on the same DataFrame the server builds. Rows are in bench/run.py's shape.

Call it from bench/run.py's main, after the other throughput scenarios::

    import text_scenario
    text_scenario.run_text_scenario(report, work, seconds, predict_budget, rounds)

or alone: ``.venv/bin/python bench/text_scenario.py [--quick]`` prints the rows as JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

#: Records per request in the scenario (a typical real-time batch of tweets).
ROWS = 100
WORDS = ["fire", "flood", "sunny", "game", "movie", "earthquake", "wildfire", "party",
         "évacuation", "storm", "smoke", "concert", "🔥", "ça", "downtown", "evacuate"]


def tweets(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """keyword, location (categorical, some missing) and text with what CSV must quote."""
    rng = np.random.default_rng(seed)
    keyword = [rng.choice(["fire", "flood", "storm", "ablaze"]) if rng.random() > 0.2
               else np.nan for _ in range(n)]
    location = [rng.choice(["Paris, France", "Zürich", "New York", "Lagos"])
                if rng.random() > 0.3 else np.nan for _ in range(n)]
    text = [" ".join(rng.choice(WORDS, int(rng.integers(6, 20))))
            + (', he said "run"' if rng.random() > 0.5 else "") for _ in range(n)]
    frame = pd.DataFrame({"keyword": keyword, "location": location, "text": text},
                         dtype=object)
    label = np.array([int(any(w in t for w in ("fire", "flood", "storm"))) for t in text])
    return frame, label


def build_text_model(work: Path) -> tuple[Path, pd.DataFrame]:
    """Train the pipeline into ``work/text-model``; return it and the request frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, label = tweets(5000)
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["keyword", "location"]),
        ("txt", TfidfVectorizer(), "text"),
    ])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    model.fit(frame, label)
    model_dir = work / "text-model"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model_dir, tweets(ROWS, seed=1)[0]


def write_text_payloads(frame: pd.DataFrame, work: Path) -> dict[str, Path]:
    """The request bodies: quoted UTF-8 CSV, and JSON records keyed by column name."""
    out = {}
    csv_path = work / "text.csv"
    csv_path.write_bytes(frame.to_csv(header=False, index=False).encode())
    out["text/csv"] = csv_path
    plain = frame.astype(object).where(frame.notna(), None)
    json_path = work / "text.json"
    json_path.write_text(json.dumps(plain.to_dict(orient="records"), ensure_ascii=False),
                         encoding="utf-8")
    out["application/json"] = json_path
    return out


def run_text_scenario(report: Any, work: Path, seconds: float, predict_budget: float,
                      rounds: int = 3) -> list[dict[str, Any]]:
    """Measure the text pipeline; append one row per content type to ``report.rows`` and
    a target (share of the model measured alone); return the rows."""
    import run as bench  # bench/run.py's helpers; imported here, so it may import us

    model_dir, frame = build_text_model(work)
    payloads = write_text_payloads(frame, work)
    model = joblib.load(model_dir / "model.joblib")
    cpus = len(os.sched_getaffinity(0))
    port = bench.free_port()
    preds: list[float] = []
    loads: dict[str, list[Any]] = {ct: [] for ct in payloads}
    with bench.host_server(bench.serve_cmd(), bench.server_env(model_dir, port), port) as srv:
        for i in range(rounds):
            order = ["predict", *payloads]
            shift = i % len(order)
            for step in order[shift:] + order[:shift]:
                if step == "predict":
                    preds.append(bench.predict_seconds(model, frame, predict_budget / rounds))
                else:
                    loads[step].append(bench.wrk(f"{srv.url}/invocations", payloads[step],
                                                 step, 2, seconds / rounds))
    med = statistics.median
    rows = []
    for ct, runs in loads.items():
        rps = [r.rps for r in runs]
        rows.append({
            "scenario": f"text pipeline (TF-IDF + one-hot), {ROWS} rows", "content_type": ct,
            "rounds": rounds, "where": "host", "rps": med(rps), "rows_per_s": med(rps) * ROWS,
            "p50_ms": med(r.p50_ms for r in runs), "p99_ms": max(r.p99_ms for r in runs),
            "errors": sum(r.errors for r in runs), "requests": sum(r.requests for r in runs),
            "predict_us": med(preds) * 1e6, "model_alone_rps": cpus / med(preds),
            "ratio_model": med(r * t / cpus for r, t in zip(rps, preds, strict=True)),
        })
    if hasattr(report, "rows"):
        report.rows.extend(rows)
    if hasattr(report, "target"):
        csv_row = rows[0]
        report.target("text pipeline CSV: share of in-process predict on all cores",
                      csv_row["ratio_model"], 0.8, True, "ratio",
                      f"predict {csv_row['predict_us']:,.0f} µs per {ROWS}-row request; the "
                      "rest is the quoted-CSV parse, the DataFrame and HTTP")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the scenario alone and print its rows as JSON."""
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory(prefix="smkit-bench-text-") as tmp:
        rows = run_text_scenario(object(), Path(tmp), 3.0 if quick else 15.0,
                                 1.0 if quick else 4.0, 1 if quick else 3)
    print(json.dumps(rows, indent=1))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
