"""Train in the oldest supported environment (scikit-learn 1.1.3, numpy 1.23, pandas 1.5):
the seller's own transformer in a Pipeline, a category_encoders pipeline on string columns,
and a one-hot + Ridge regression. Usage: python oldest.py OUT_DIR
"""

from __future__ import annotations

import category_encoders as ce
import numpy as np
import pandas as pd
from features import RatioFeatures  # the seller's own module (python.source in the spec)
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from trainkit import out_dir, rounded, save, write_versions

OUT = out_dir()
rng = np.random.RandomState(0)

# The seller's module: 3,000 rows, 2,000 held out, so the request body (~150 KB) takes the
# server's bulk CSV path (pandas' reader) as well as the small-body one.
X, y = make_classification(n_samples=3000, n_features=8, n_informative=5, random_state=0)
frame = pd.DataFrame(rounded(X), columns=[f"f{i}" for i in range(8)])
seller = Pipeline([
    ("features", RatioFeatures(pairs=((0, 1), (2, 3)))),
    ("scale", StandardScaler()),
    ("clf", LogisticRegression(max_iter=1000)),
]).fit(frame.iloc[:1000], y[:1000])
save(OUT, "seller_module", seller, frame.iloc[1000:])

# category_encoders: string columns target-encoded, then a forest.
n = 600
cities = np.array(["Lyon", "Oslo", "Lima", "Pune", "Kobe", "Graz", "Cork", "Nice"])
plans = np.array(["basic", "plus", "pro"])
cat = pd.DataFrame({
    "city": cities[rng.randint(0, len(cities), n)],
    "tenure": rounded(rng.gamma(2.0, 12.0, n), 2),
    "plan": plans[rng.randint(0, len(plans), n)],
    "spend": rounded(rng.normal(60, 20, n), 2),
})
score = (cat["plan"] == "basic") * 1.5 + (cat["tenure"] < 12) * 1.0 + rng.normal(0, 0.7, n)
label = (score > 1.2).astype(int)  # TargetEncoder needs a numeric target
encoded = Pipeline([
    ("encode", ce.TargetEncoder(cols=["city", "plan"])),
    ("forest", RandomForestClassifier(n_estimators=40, max_depth=6, random_state=0)),
]).fit(cat.iloc[:400], label[:400])
save(OUT, "category_encoders", encoded, cat.iloc[400:])

# One-hot + scaling + Ridge: a regression with a string column, fitted on a DataFrame.
Xd, yd = load_diabetes(return_X_y=True)
diab = pd.DataFrame(rounded(Xd, 6), columns=[f"x{i}" for i in range(Xd.shape[1])])
diab.insert(2, "site", np.array(["north", "south", "east"])[rng.randint(0, 3, len(diab))])
ridge = Pipeline([
    ("pre", ColumnTransformer([
        ("site", OneHotEncoder(handle_unknown="ignore"), ["site"]),
        ("num", StandardScaler(), [c for c in diab.columns if c != "site"]),
    ])),
    ("ridge", Ridge(alpha=1.0)),
]).fit(diab.iloc[:300], yd[:300])
save(OUT, "onehot_ridge", ridge, diab.iloc[300:])

write_versions(OUT)
