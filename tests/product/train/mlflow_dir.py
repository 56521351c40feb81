"""Train and save as an MLflow user does: ``mlflow.sklearn.save_model`` writes the model
directory (``MLmodel``, ``model.skops``, MLflow 3's default format, and the pins MLflow
infers: ``requirements.txt``, ``python_env.yaml``, ``conda.yaml``). The model is a scaled
SVC with Platt probabilities (libsvm, which no other model here reaches), scikit-learn 1.6.
Usage: python mlflow_dir.py OUT_DIR
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from trainkit import out_dir, rounded, save, write_versions

OUT = out_dir()
wine = load_wine()
frame = pd.DataFrame(rounded(wine.data, 4), columns=[f"w{i}" for i in range(wine.data.shape[1])])
order = np.random.RandomState(6).permutation(len(frame))
svc = Pipeline([("scale", StandardScaler()), ("svc", SVC(probability=True, random_state=0))])
svc.fit(frame.iloc[order[:120]], wine.target[order[:120]])
save(OUT, "mlflow_skops", svc, frame.iloc[order[120:]], how="mlflow")

write_versions(OUT)
