"""Train and hand the model over as a folder with the seller's ``pip freeze`` beside it
(``requirements.txt``: every package of the venv pinned, transitive ones too), a
GradientBoostingClassifier (scikit-learn's own boosting) saved with joblib.
Usage: python frozen.py OUT_DIR
"""

from __future__ import annotations

import subprocess
import sys

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from trainkit import out_dir, rounded, save, write_versions

OUT = out_dir()
data = load_breast_cancer()
X = rounded(data.data, 4)
gb = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0)
save(OUT, "frozen_requirements", gb.fit(X[:400], data.target[:400]), X[400:])
# As the seller does: pip freeze > requirements.txt, beside the model.
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True,
                        text=True, check=True).stdout
(OUT / "frozen_requirements" / "model" / "requirements.txt").write_text(freeze)

write_versions(OUT)
