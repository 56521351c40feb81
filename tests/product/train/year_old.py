"""Train as a seller did a year ago (scikit-learn 1.5.2, numpy 1.26, pandas 2.2): the
issue's HistGradientBoosting pipeline (its pickle needs ``sklearn._loss``) with missing
values, a RandomForestRegressor on a plain array, a CatBoost classifier, and a CatBoost
classifier with string columns as CatBoost's own categorical features (``cat_features``).
CatBoost is kept at its default ``thread_count``: an explicit -1 is the same (CatBoost drops
it from the parameters at fit, and predicts with ``thread_count=-1`` either way).
Usage: python year_old.py OUT_DIR
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from trainkit import out_dir, rounded, save, write_versions

OUT = out_dir()
rng = np.random.RandomState(1)

# HistGradientBoosting on a DataFrame, with missing values in training and held-out rows.
data = load_breast_cancer()
frame = pd.DataFrame(rounded(data.data), columns=[f"c{i}" for i in range(data.data.shape[1])])
frame = frame.mask(rng.uniform(size=frame.shape) < 0.05)
order = rng.permutation(len(frame))
train, held_out = order[:380], order[380:]
hgb = Pipeline([
    ("scale", StandardScaler()),
    ("hgb", HistGradientBoostingClassifier(max_iter=60, random_state=0)),
]).fit(frame.iloc[train], data.target[train])
save(OUT, "hist_gradient_boosting", hgb, frame.iloc[held_out])

# A forest on a plain numpy array (no feature names): a regression.
Xd, yd = load_diabetes(return_X_y=True)
Xd = rounded(Xd, 6)
forest = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0)
forest.fit(Xd[:300], yd[:300])
save(OUT, "random_forest_array", forest, Xd[300:])

# CatBoost, multi-class, on a DataFrame.
wine = load_wine()
wframe = pd.DataFrame(rounded(wine.data, 4), columns=list(wine.feature_names))
worder = rng.permutation(len(wframe))
cat = CatBoostClassifier(iterations=60, depth=4, random_seed=0, verbose=0,
                         allow_writing_files=False)
cat.fit(wframe.iloc[worder[:120]], wine.target[worder[:120]])
# 1,000 held-out rows around the unseen ones: a numeric body over the bulk-CSV threshold.
picks = worder[120:][rng.randint(0, len(wframe) - 120, 1000)]
jitter = wframe.iloc[picks].reset_index(drop=True) * rounded(rng.uniform(0.9, 1.1, (1000, 1)), 3)
save(OUT, "catboost", cat, jitter.round(4))

# CatBoost with two string columns it encodes itself, binary string labels.
n = 600
cities = np.array(["Lyon", "Oslo", "Lima", "Pune", "Kobe", "Graz"])
plans = np.array(["basic", "plus", "pro"])
churn = pd.DataFrame({
    "city": cities[rng.randint(0, len(cities), n)],
    "tenure": rounded(rng.gamma(2.0, 12.0, n), 2),
    "plan": plans[rng.randint(0, len(plans), n)],
    "spend": rounded(rng.normal(60, 20, n), 2),
})
score = (churn["plan"] == "basic") * 1.5 + (churn["tenure"] < 12) * 1.0 + rng.normal(0, 0.7, n)
churned = np.where(score > 1.2, "left", "stayed")
cat_strings = CatBoostClassifier(iterations=60, depth=4, random_seed=0, verbose=0,
                                 allow_writing_files=False, cat_features=["city", "plan"])
cat_strings.fit(churn.iloc[:400], churned[:400])
save(OUT, "catboost_strings", cat_strings, churn.iloc[400:])

write_versions(OUT)
