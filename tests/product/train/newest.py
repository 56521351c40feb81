"""Train with the newest versions (scikit-learn 1.9.1, numpy 2.x, pandas 3.x): XGBoost,
LightGBM, an imbalanced-learn pipeline (SMOTE inside an imblearn Pipeline), a forest saved
with plain ``pickle.dump`` and a pipeline with a string column saved with ``skops.io.dump``.

Every model keeps its library's thread settings (``n_jobs`` and the like) at their
defaults, as sellers train: LightGBM then predicts on an OpenMP pool of all cores, which
hangs a server that starts that pool before its workers fork (issue 23).
``lightgbm_all_cores`` is the same classifier with ``n_jobs=-1``, which LightGBM resolves
by another branch (joblib's formula on all threads; the default counts physical cores).
``xgboost_all_cores`` sets XGBoost's ``nthread`` to -1 (the default leaves it unset), and
``forest_all_cores`` is a forest with ``n_jobs=-1``, which predicts over joblib's threads
(the default predicts in the calling thread).
Usage: python newest.py OUT_DIR
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from trainkit import out_dir, rounded, save, write_versions
from xgboost import XGBClassifier

OUT = out_dir()
rng = np.random.RandomState(2)

# XGBoost on a plain numpy array; 2,000 held-out rows (a bulk CSV body).
data = load_breast_cancer()
X = rounded(data.data, 4)
order = rng.permutation(len(X))
xgb = XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.2, random_state=0,
                    tree_method="hist")
xgb.fit(X[order[:400]], data.target[order[:400]])
jitter = X[rng.randint(0, len(X), 2000)] * rounded(rng.uniform(0.9, 1.1, (2000, 1)), 3)
save(OUT, "xgboost", xgb, rounded(jitter, 4))
xgb_all = XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.2, random_state=0,
                        tree_method="hist", n_jobs=-1)
xgb_all.fit(X[order[:400]], data.target[order[:400]])
save(OUT, "xgboost_all_cores", xgb_all, rounded(jitter[:500], 4))

# LightGBM regression on a DataFrame (feature names).
Xd, yd = load_diabetes(return_X_y=True)
diab = pd.DataFrame(rounded(Xd, 6), columns=[f"x{i}" for i in range(Xd.shape[1])])
lgbm = LGBMRegressor(n_estimators=60, num_leaves=15, random_state=0, verbose=-1)
lgbm.fit(diab.iloc[:300], yd[:300])
save(OUT, "lightgbm", lgbm, diab.iloc[300:])

# The most common LightGBM model there is: a classifier at its defaults on 30 numeric
# columns (a plain array), and the same with n_jobs=-1.
Xl, yl = make_classification(n_samples=1500, n_features=30, n_informative=12, random_state=4)
Xl = rounded(Xl)
for name, n_jobs in (("lightgbm_classifier", None), ("lightgbm_all_cores", -1)):
    extra = {} if n_jobs is None else {"n_jobs": n_jobs}
    clf = LGBMClassifier(n_estimators=30, **extra).fit(Xl[:1000], yl[:1000])
    save(OUT, name, clf, Xl[1000:])

# imbalanced-learn: SMOTE then a logistic regression, in imblearn's own Pipeline; string
# labels.
Xi, yi = make_classification(n_samples=1200, n_features=6, n_informative=4,
                             weights=[0.9, 0.1], random_state=3)
Xi = rounded(Xi)
yi = np.array(["common", "rare"])[yi]
imb = ImbPipeline([
    ("smote", SMOTE(random_state=0)),
    ("scale", StandardScaler()),
    ("clf", LogisticRegression(max_iter=500)),
]).fit(Xi[:800], yi[:800])
save(OUT, "imbalanced_learn", imb, Xi[800:])

# A forest with n_jobs=-1, saved with plain pickle.dump (model.pkl).
Xf, yf = make_classification(n_samples=900, n_features=10, n_informative=6, n_classes=3,
                             random_state=5)
Xf = rounded(Xf)
forest = RandomForestClassifier(n_estimators=40, max_depth=8, random_state=0, n_jobs=-1)
save(OUT, "forest_all_cores", forest.fit(Xf[:600], yf[:600]), Xf[600:], how="pickle")

# A regression with a string column (one-hot) on a DataFrame, saved with skops (model.skops).
n = 700
prices = pd.DataFrame({
    "rooms": rng.randint(1, 7, n).astype(float),
    "district": np.array(["harbour", "old town", "hills", "airport"])[rng.randint(0, 4, n)],
    "area": rounded(rng.gamma(4.0, 18.0, n), 1),
    "age": rounded(rng.uniform(0, 80, n), 1),
})
price = (prices["area"] * 30 + (prices["district"] == "old town") * 900
         - prices["age"] * 4 + rng.normal(0, 150, n))
sk = Pipeline([
    ("pre", ColumnTransformer([("district", OneHotEncoder(handle_unknown="ignore"),
                                ["district"])], remainder="passthrough")),
    ("hgb", HistGradientBoostingRegressor(max_iter=50, random_state=0)),
]).fit(prices.iloc[:500], price.iloc[:500])
save(OUT, "skops_pipeline", sk, prices.iloc[500:], how="skops")

write_versions(OUT)
