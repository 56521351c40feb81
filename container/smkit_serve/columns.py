"""What a fitted model says about its input columns: names, width, and each column's kind.

Read from the fitted objects, never guessed from their names alone:
- an encoder's fitted categories give their column's kind (strings, integers, numbers or
  booleans) and a value it knows;
- a text vectorizer (TF-IDF, counts, hashing) takes text;
- a scikit-learn step that only does arithmetic (scalers, imputers of numbers, the
  estimators themselves) takes numbers;
- anything else (a custom or function transformer, a passthrough column) is AUTO: read from
  each request's data.

With a signature in the manifest the server uses it instead (``schema_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from smkit_contract.signature import BOOLEAN, INTEGER, NUMBER, STRING, Signature

from .codecs import AUTO, Schema

#: scikit-learn modules whose steps take text or any values, not only numbers.
_NOT_NUMERIC_MODULES = (
    "sklearn.feature_extraction",
    "sklearn.preprocessing._encoders",
    "sklearn.preprocessing._function_transformer",
    "sklearn.preprocessing._target_encoder",
    "sklearn.preprocessing._label",
    "sklearn.impute",
    "sklearn.compose",
    "sklearn.pipeline",
    "sklearn.utils",
    "sklearn.dummy",
)


@dataclass
class ModelColumns:
    """Width, fitted names, and per column a kind (or AUTO) and a value the model knows."""

    width: int | None
    names: tuple[str, ...] | None
    kinds: list[str | None]
    examples: list[Any]


def first_step(model: Any) -> Any:
    """The step that receives the raw rows (through nested Pipelines)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        return first_step(steps[0][1])
    return model


def _width(estimator: Any) -> int | None:
    """``n_features_in_`` when it is a usable width (CatBoost reports 0 once unpickled)."""
    width = getattr(estimator, "n_features_in_", None)
    return int(width) if isinstance(width, (int, np.integer)) and width > 0 else None


def width_and_names(model: Any) -> tuple[int | None, tuple[str, ...] | None]:
    """``n_features_in_`` (of the model or its first step) and ``feature_names_in_``."""
    width = _width(model)
    if width is None:
        width = _width(first_step(model))
    raw_names = getattr(model, "feature_names_in_", None)
    if raw_names is None:
        raw_names = getattr(first_step(model), "feature_names_in_", None)
    names = tuple(str(n) for n in raw_names) if raw_names is not None else None
    if width is None and names is not None:
        width = len(names)
    return width, names


def _column_indices(columns: Any, names: tuple[str, ...] | None, width: int) -> list[int]:
    if isinstance(columns, slice):
        if names is not None and (isinstance(columns.start, str) or
                                  isinstance(columns.stop, str)):
            start = names.index(columns.start) if columns.start is not None else 0
            stop = names.index(columns.stop) + 1 if columns.stop is not None else width
            return list(range(start, stop))
        return list(range(width))[columns]
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    if callable(columns):
        return []
    out = []
    cols = list(columns)
    if cols and all(isinstance(c, (bool, np.bool_)) for c in cols):
        return [i for i, keep in enumerate(cols) if keep]
    for c in cols:
        if isinstance(c, str):
            if names is None or c not in names:
                return []
            out.append(names.index(c))
        else:
            out.append(int(c))
    return out


def kind_of_categories(cats: np.ndarray) -> str:
    """The kind of the values an encoder was fitted on."""
    if cats.dtype.kind == "b":
        return BOOLEAN
    if cats.dtype.kind in "iu":
        return INTEGER
    if cats.dtype.kind == "f":
        return NUMBER
    present = [c for c in cats.tolist() if not (c is None or (isinstance(c, float) and c != c))]
    if present and all(isinstance(c, (bool, np.bool_)) for c in present):
        return BOOLEAN
    if present and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                       for c in present):
        return INTEGER
    if present and all(isinstance(c, (int, float, np.number)) for c in present):
        return NUMBER
    return STRING


def _first_known(cats: np.ndarray) -> Any:
    for c in cats.tolist():
        if not (c is None or (isinstance(c, float) and c != c)):
            return c
    return None


def is_text_vectorizer(step: Any) -> bool:
    """Count, TF-IDF and hashing vectorizers: each takes one column of text."""
    return callable(getattr(step, "build_analyzer", None))


def _numeric_step(step: Any) -> bool:
    module = type(step).__module__
    if not module.startswith("sklearn."):
        return False
    return not module.startswith(_NOT_NUMERIC_MODULES)


def _flatten(step: Any) -> list[Any]:
    steps = getattr(step, "steps", None)
    if isinstance(steps, list):
        return [inner for _, s in steps for inner in _flatten(s)]
    return [step]


def _chain_kinds(transformer: Any, count: int) -> tuple[list[str | None], list[Any]]:
    """Kind and example value for each of ``count`` columns a (pipeline of) step(s) gets."""
    imputed_text = False
    for step in _flatten(transformer):
        if isinstance(step, str):  # "passthrough" or "drop" inside a pipeline
            continue
        cats = getattr(step, "categories_", None)
        if isinstance(cats, list) and len(cats) == count:
            return ([kind_of_categories(np.asarray(c)) for c in cats],
                    [_first_known(np.asarray(c)) for c in cats])
        if is_text_vectorizer(step):
            vocab = getattr(step, "vocabulary_", None)
            word = (min(vocab, key=lambda w: vocab[w]) if isinstance(vocab, dict) and vocab
                    else "text")
            return [STRING] * count, [str(word)] * count
        stats = getattr(step, "statistics_", None)
        if isinstance(stats, np.ndarray) and stats.dtype.kind in "OUS":
            imputed_text = True
            continue
        if type(step).__name__ in ("SimpleImputer", "KNNImputer", "IterativeImputer",
                                   "MissingIndicator"):
            return [NUMBER] * count, [0.0] * count
        if _numeric_step(step):
            return [STRING if imputed_text else NUMBER] * count, [0.0] * count
        break
    if imputed_text:
        return [STRING] * count, ["text"] * count
    return [AUTO] * count, [None] * count


def model_columns(model: Any) -> ModelColumns:
    """What the fitted model says of each input column."""
    width, names = width_and_names(model)
    if width is None:
        return ModelColumns(None, names, [], [])
    kinds: list[str | None] = [AUTO] * width
    examples: list[Any] = [None] * width
    first = first_step(model)
    transformers = getattr(first, "transformers_", None)
    if transformers is not None:
        for _, trans, columns in transformers:
            idx = _column_indices(columns, names, width)
            if isinstance(trans, str) or not idx:
                continue  # "passthrough" / "drop": AUTO
            ks, ex = _chain_kinds(trans, len(idx))
            for i, k, e in zip(idx, ks, ex, strict=False):
                if 0 <= i < width:
                    kinds[i], examples[i] = k, e
    else:
        ks, ex = _chain_kinds(model if getattr(model, "steps", None) else first, width)
        kinds, examples = list(ks), list(ex)
    return ModelColumns(width, names, kinds, examples)


def schema_for(model: Any, signature: Signature | None = None) -> Schema:
    """The decoding schema: the signature's when there is one, else the model's own."""
    cols = model_columns(model)
    if signature is not None:
        return Schema(
            n_features=len(signature.columns),
            feature_names=signature.names if signature.frame else None,
            kinds=signature.kinds,
            names=signature.names,
            optional=tuple(c.optional for c in signature.columns),
        )
    return Schema(
        n_features=cols.width,
        feature_names=cols.names,
        kinds=tuple(cols.kinds) if cols.width is not None else None,
    )


def example_rows(model: Any, schema: Schema) -> list[list[Any]]:
    """Candidate one-row inputs for the start-up check, most likely first.

    Known columns get a value the model was fitted on (or of their kind); AUTO columns are
    tried as numbers, then as text, then each alone as text.
    """
    cols = model_columns(model)
    width = schema.n_features or cols.width
    if width is None:
        return []
    defaults: dict[str | None, Any] = {NUMBER: 0.0, INTEGER: 0, BOOLEAN: False,
                                       STRING: "text"}
    base: list[Any] = []
    auto: list[int] = []
    for j in range(width):
        kind = schema.kind(j)
        example = cols.examples[j] if j < len(cols.examples) else None
        if kind is AUTO:
            auto.append(j)
            base.append(0.0)
        elif example is not None and (kind != STRING or isinstance(example, str)):
            base.append(example)
        else:
            base.append(defaults[kind])
    candidates = [base]
    if auto:
        candidates.append([("text" if j in auto else v) for j, v in enumerate(base)])
        if len(auto) > 1:
            for j in auto[:32]:
                candidates.append([("text" if i == j else v) for i, v in enumerate(base)])
    return candidates
