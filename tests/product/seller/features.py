"""A seller's own feature code: a transformer class their pickled Pipeline refers to as
``features.RatioFeatures``. The product image must import it from the declared source.

Written for every scikit-learn from 1.1 on (no ``validate_data``/``_validate_data``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class RatioFeatures(TransformerMixin, BaseEstimator):
    """Appends ``x[a] / (|x[b]| + eps)`` for each pair of columns and a log-magnitude."""

    def __init__(self, pairs: tuple[tuple[int, int], ...] = ((0, 1),), eps: float = 1.0):
        self.pairs = pairs
        self.eps = eps

    def fit(self, X: Any, y: Any = None) -> RatioFeatures:
        """Remember the input's width and column names."""
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = np.asarray(X).shape[1]
        self.scale_ = np.abs(np.asarray(X, dtype=np.float64)).mean(axis=0) + self.eps
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The input, the ratios and the scaled log-magnitudes, as one float array."""
        data = np.asarray(X, dtype=np.float64)
        if data.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {data.shape[1]}")
        ratios = [data[:, a] / (np.abs(data[:, b]) + self.eps) for a, b in self.pairs]
        logs = np.log1p(np.abs(data) / self.scale_)
        return np.column_stack([data, *ratios, logs])
