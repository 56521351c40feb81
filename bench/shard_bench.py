"""Local batch transform rows/s on one instance and on two (``smkit transform --instances``).

For ``make bench``: ``rows_per_s_by_instances(image)`` returns ``{1: rows/s, 2: rows/s}``
measured on this machine with smkit's sharded runner (one container per instance, the files
sharded by key as SageMaker shards objects). Each figure includes starting the containers,
as a job's would. Run alone: ``python bench/shard_bench.py [--rows N] [--files N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from smkit.project.transform_job import TransformJob
from smkit.transform.shard import cpu_count, measure_rows_per_s

IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")


def write_inputs(folder: Path, rows: int, files: int, features: int = 20) -> Path:
    """``files`` headerless CSV files with ``rows`` records in all, under ``folder/input``."""
    x, _ = make_classification(n_samples=rows, n_features=features, random_state=0)
    inputs = folder / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(np.array_split(x, files)):
        np.savetxt(inputs / f"part-{i:03d}.csv", part, delimiter=",", fmt="%.6g")
    return inputs


def train_model(folder: Path, features: int = 20, *, trees: int = 20, depth: int = 8,
                samples: int = 2000) -> Path:
    """A random forest (small by default) saved as ``folder/model/model.joblib``."""
    x, y = make_classification(n_samples=samples, n_features=features, random_state=1)
    model_dir = folder / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    model = RandomForestClassifier(n_estimators=trees, max_depth=depth,
                                   random_state=0).fit(x, y)
    joblib.dump(model, model_dir / "model.joblib")
    return model_dir


def rows_per_s_by_instances(image: str = IMAGE, *, rows: int = 200_000, files: int = 8,
                            instances: tuple[int, ...] = (1, 2)) -> dict[int, float]:
    """Records per second of a local sharded transform for each instance count."""
    job = TransformJob(batch_strategy="MultiRecord", max_payload_mb=6,
                       max_concurrent_transforms=2)
    with tempfile.TemporaryDirectory(prefix="smkit-shard-bench-") as tmp:
        folder = Path(tmp)
        inputs = write_inputs(folder, rows, files)
        model = train_model(folder)
        return {n: measure_rows_per_s(image, model, [inputs], n, job)[0] for n in instances}


def main(argv: list[str] | None = None) -> int:
    """Print rows/s for one and two instances."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--image", default=IMAGE)
    args = parser.parse_args(argv)
    figures = rows_per_s_by_instances(args.image, rows=args.rows, files=args.files)
    print(f"local batch transform, {args.rows} rows in {args.files} files, "
          f"{cpu_count()} CPUs:")
    for n, rate in figures.items():
        print(f"  {n} instance(s): {rate:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
