"""Real pipelines over text, categorical and mixed columns, for the signature tests.

Each builder fits a scikit-learn Pipeline on a DataFrame made here (seeded, so it is the
same every run). Nothing here is pickled into the repository: tests save the fitted models
into their tmp dirs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

WORDS = ["fire", "flood", "sunny", "game", "movie", "earthquake", "wildfire", "party",
         "évacuation", "storm", "smoke", "concert"]
#: Text with what CSV must quote: commas, doubled quotes, accents, emoji, and a newline.
TRICKY_TEXTS = [
    'Forest fire near La Ronge, Sask. "evacuation" ordered 🔥',
    "just a game, nothing to see... ça va?",
    'he said ""hi"", then left',
    "two\nlines of flood",
]


def tweet_frame(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """keyword and location (categorical, with missing), text (free text, never missing)."""
    rng = np.random.default_rng(seed)
    keyword = [rng.choice(["fire", "flood", "storm"]) if rng.random() > 0.2 else np.nan
               for _ in range(n)]
    location = [rng.choice(["Paris, France", "Zürich", "New York"]) if rng.random() > 0.3
                else np.nan for _ in range(n)]
    text = [" ".join(rng.choice(WORDS, 6)) for _ in range(n)]
    text[: len(TRICKY_TEXTS)] = TRICKY_TEXTS
    frame = pd.DataFrame({"keyword": keyword, "location": location, "text": text},
                         dtype=object)
    label = np.array([int(any(w in t for w in ("fire", "flood", "storm"))) for t in text])
    return frame, label


def tweet_pipeline(vectorizer: str = "tfidf") -> Pipeline:
    """The disaster-tweet classifier of issue 13 (TF-IDF or hashing over ``text``)."""
    vec = (TfidfVectorizer() if vectorizer == "tfidf"
           else HashingVectorizer(n_features=256, alternate_sign=False))
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["keyword", "location"]),
        ("txt", vec, "text"),
    ])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


def fitted_tweet_model(vectorizer: str = "tfidf") -> Pipeline:
    """``tweet_pipeline`` fitted on ``tweet_frame``."""
    frame, label = tweet_frame()
    return tweet_pipeline(vectorizer).fit(frame, label)


def mixed_frame(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """zip (string codes with leading zeros), rooms (integer categorical), pool (boolean),
    area (number with missing values)."""
    rng = np.random.default_rng(seed)
    zips = rng.choice(["02134", "02139", "10001", "94105"], size=n)
    rooms = rng.choice([1, 2, 3, 4], size=n).astype(np.int64)
    pool = rng.random(n) > 0.5
    area = rng.normal(80, 20, size=n)
    area[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({"zip": pd.Series(zips, dtype=object), "rooms": rooms,
                          "pool": pool, "area": area})
    label = ((rooms >= 3) | pool).astype(int)
    return frame, label


def mixed_pipeline() -> Pipeline:
    """String and integer categoricals, a boolean, and an imputed number."""
    pre = ColumnTransformer([
        ("zip", OneHotEncoder(handle_unknown="ignore"), ["zip"]),
        ("rooms", OneHotEncoder(handle_unknown="ignore"), ["rooms"]),
        ("pool", OneHotEncoder(handle_unknown="ignore"), ["pool"]),
        ("area", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), ["area"]),
    ])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


class WordCount(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A seller's own transformer over strings: the number of words in each text cell."""

    def fit(self, X: object, y: object = None) -> WordCount:
        """Nothing to learn."""
        return self

    def transform(self, X: object) -> np.ndarray:
        """Words per cell (a missing cell counts as zero words)."""
        values = np.asarray(X, dtype=object).reshape(-1)
        return np.array([[len(str(v).split()) if isinstance(v, str) else 0]
                         for v in values], dtype=float)


def custom_pipeline() -> Pipeline:
    """A custom transformer over a text column beside a number, fitted on a DataFrame."""
    pre = ColumnTransformer([("words", WordCount(), ["comment"]),
                             ("num", StandardScaler(), ["score"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression())])


def custom_frame(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """comment (free text), score (number)."""
    rng = np.random.default_rng(seed)
    comments = [" ".join(rng.choice(WORDS, int(rng.integers(1, 9)))) for _ in range(n)]
    frame = pd.DataFrame({"comment": pd.Series(comments, dtype=object),
                          "score": rng.normal(size=n)})
    label = np.array([int(len(c.split()) > 4) for c in comments])
    return frame, label


def month_of(X: pd.DataFrame) -> np.ndarray:
    """The month of an ISO date column (fails on anything that is not such a date)."""
    dates = pd.to_datetime(X["when"].astype(str), format="%Y-%m-%d")
    return dates.dt.month.to_numpy().reshape(-1, 1)


def dates_pipeline() -> Pipeline:
    """A model whose only column must be a date: no synthesised row can satisfy it."""
    from sklearn.preprocessing import FunctionTransformer

    frame = pd.DataFrame({"when": ["2024-01-02", "2024-06-03"] * 5})
    return Pipeline([("f", FunctionTransformer(month_of)),
                     ("clf", LogisticRegression())]).fit(frame, [0, 1] * 5)
