"""Train a Pipeline around the seller's own transformer (``features.RatioFeatures``) in any
environment, for the check that a pickle needing undeclared code fails at ``smkit package``.
Usage: python own_module.py OUT_DIR (with the seller's folder on PYTHONPATH)
"""

from __future__ import annotations

import pandas as pd
from features import RatioFeatures
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from trainkit import out_dir, rounded, save, write_versions

OUT = out_dir()
X, y = make_classification(n_samples=300, n_features=4, random_state=0)
frame = pd.DataFrame(rounded(X), columns=["a", "b", "c", "d"])
model = Pipeline([("features", RatioFeatures()), ("clf", LogisticRegression())])
save(OUT, "own_module", model.fit(frame.iloc[:200], y[:200]), frame.iloc[200:])
write_versions(OUT)
