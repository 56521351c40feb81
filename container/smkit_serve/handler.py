"""The invocation logic as a plain function: bytes and headers in, bytes and a type out.

No HTTP here, so it is tested directly and the Flask view stays a thin wrapper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from smkit_contract import limits

from . import codecs
from .columns import example_rows
from .errors import BadRequest, ModelError, NotReady, ServingError
from .model import LoadedModel, find_sample

log = logging.getLogger("smkit.handler")

LABELS = "labels"
PROBABILITIES = "probabilities"
_OUTPUT_ALIASES = {
    "labels": LABELS,
    "label": LABELS,
    "predictions": LABELS,
    "probabilities": PROBABILITIES,
    "probability": PROBABILITIES,
    "proba": PROBABILITIES,
    "predict_proba": PROBABILITIES,
}


@dataclass
class Result:
    """An encoded response body, its type and the number of records it answers."""

    body: bytes
    content_type: str
    records: int | None


def parse_custom_attributes(header: str | None) -> dict[str, str]:
    """Parse ``key=value`` pairs separated by ``,`` or ``;``; unknown keys are kept, unused.

    The header must be at most 1024 visible ASCII characters (SageMaker's contract).
    """
    if not header:
        return {}
    if len(header) > limits.CUSTOM_ATTRIBUTES_MAX_CHARS:
        raise BadRequest(
            f"X-Amzn-SageMaker-Custom-Attributes is {len(header)} characters; "
            f"the limit is {limits.CUSTOM_ATTRIBUTES_MAX_CHARS}"
        )
    if any(not (32 <= ord(c) <= 126) for c in header):
        raise BadRequest("X-Amzn-SageMaker-Custom-Attributes must be visible ASCII characters")
    attrs: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            attrs[key.strip().lower()] = value.strip()
    return attrs


def output_kind(attrs: dict[str, str], default: str) -> str:
    """``labels`` or ``probabilities``, from ``output=`` / ``probabilities=true`` or default."""
    if "output" in attrs:
        kind = _OUTPUT_ALIASES.get(attrs["output"].lower())
        if kind is None:
            raise BadRequest(
                f"custom attribute output={attrs['output']!r} is not known; "
                "use output=labels or output=probabilities"
            )
        return kind
    if "probabilities" in attrs:
        return PROBABILITIES if attrs["probabilities"].lower() in ("1", "true", "yes") else LABELS
    return default


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:400]


def predict(loaded: LoadedModel, data: Any, kind: str) -> Any:
    """Run the model (or the seller's ``predict_fn``); map failures to 400 or 500."""
    model = loaded.model
    try:
        if loaded.hooks.predict_fn is not None:
            return loaded.hooks.predict_fn(data, model)
        if kind == PROBABILITIES:
            if not loaded.has_proba:
                raise BadRequest(
                    f"this model ({type(model).__name__}) cannot return probabilities; "
                    "drop output=probabilities to get its predictions"
                )
            return model.predict_proba(data)
        return model.predict(data)
    except ServingError:
        raise
    except (ValueError, TypeError) as e:
        # scikit-learn reports inputs it cannot use (unknown category, NaN, wrong dtype)
        # as ValueError/TypeError: that is the caller's data, so 400 with the reason.
        log.warning("model rejected input: %s", _one_line(e))
        raise BadRequest(f"the model rejected the input: {_one_line(e)}") from e
    except Exception as e:
        log.error("model failed to predict", exc_info=e)
        raise ModelError("the model failed to predict; the container log has the details") from e


def invoke(
    loaded: LoadedModel,
    body: bytes,
    content_type: str | None,
    accept: str | None,
    custom_attributes: str | None,
    *,
    default_accept: str | None = None,
    default_output: str = LABELS,
) -> Result:
    """Decode, predict and encode one request."""
    if not loaded.ready:
        raise NotReady(f"the model is not ready: {loaded.reason}")
    attrs = parse_custom_attributes(custom_attributes)
    kind = output_kind(attrs, default_output)
    request_type, _ = codecs.parse_media_type(content_type)
    hooks = loaded.hooks

    if hooks.output_fn is None:
        response_type = codecs.negotiate(accept, request_type, default_accept)
    else:
        response_type = (accept or "").strip() or default_accept or request_type

    n_rows: int | None
    if hooks.input_fn is not None:
        try:
            data = hooks.input_fn(body, content_type or "")
        except ServingError:
            raise
        except (ValueError, TypeError) as e:
            raise BadRequest(f"input_fn rejected the body: {_one_line(e)}") from e
        except Exception as e:
            log.error("input_fn failed", exc_info=e)
            raise ModelError("input_fn failed; the container log has the details") from e
        n_rows = None
    else:
        decoded = codecs.decode(body, content_type, loaded.schema)
        data, n_rows = decoded.data, decoded.n_rows

    prediction = predict(loaded, data, kind)

    if hooks.output_fn is not None:
        try:
            out = hooks.output_fn(prediction, response_type)
        except ServingError:
            raise
        except Exception as e:
            log.error("output_fn failed", exc_info=e)
            raise ModelError("output_fn failed; the container log has the details") from e
        if isinstance(out, tuple):
            out_body, out_type = out[0], str(out[1])
        else:
            out_body, out_type = out, response_type
        if isinstance(out_body, str):
            out_body = out_body.encode()
        if not isinstance(out_body, (bytes, bytearray)):
            raise ModelError("output_fn must return bytes or str (optionally with a type)")
        return Result(bytes(out_body), out_type, n_rows)

    arr = codecs.as_output_array(prediction)
    if n_rows is not None and arr.shape[0] != n_rows:
        log.error("model returned %d predictions for %d records", arr.shape[0], n_rows)
        raise ModelError(
            f"the model returned {arr.shape[0]} predictions for {n_rows} records"
        )
    return Result(codecs.ENCODERS[response_type](arr), response_type, arr.shape[0])


def _sample_hint(loaded: LoadedModel) -> str:
    """Exactly what sample file would let the start-up check run on real data."""
    schema = loaded.schema
    names = schema.record_names
    if names is None:
        width = f"{schema.n_features} values" if schema.n_features else "its values"
        return (f"add sample_input.csv to the model directory: one typical record, {width} "
                "in training order, no header")
    return ("add sample_input.csv to the model directory: one typical record, no header, "
            f"columns in this order: {', '.join(names)}")


def smoke_check(loaded: LoadedModel, model_dir: str) -> None:
    """Run one prediction at start-up; set ``loaded.ready`` or the reason it is not ready.

    Uses the seller's ``sample_input.*`` when the model directory has one (through the
    whole decode/predict/encode path), otherwise rows made from the fitted model: values
    its encoders know, words of its vectorizers, and for columns of unknown kind a number,
    then text.
    """
    if loaded.model is None:
        return
    sample = find_sample(model_dir)
    loaded.ready = True  # invoke() refuses while not ready; reset below on failure
    source = "sample_input"
    try:
        if sample is not None:
            body, content_type = sample
            invoke(loaded, body, content_type, None, None)
        else:
            candidates = example_rows(loaded.model, loaded.schema)
            if not candidates:
                raise BadRequest(
                    "the model does not say how many features it takes (no n_features_in_); "
                    + _sample_hint(loaded)
                )
            first_error: ServingError | None = None
            for row in candidates:
                try:
                    if loaded.hooks.input_fn is None:
                        data: Any = codecs.rows_to_data([row], loaded.schema, "row")
                    else:
                        data = np.array([row], dtype=object)
                    predict(loaded, data, LABELS)
                except ServingError as e:
                    first_error = first_error or e
                    continue
                break
            else:
                assert first_error is not None
                raise first_error
            source = "synthesised row"
    except ServingError as e:
        loaded.ready = False
        loaded.reason = f"the start-up prediction failed: {e.message}"
        if sample is None and "sample_input" not in loaded.reason:
            loaded.reason += "; if the model needs realistic input, " + _sample_hint(loaded)
        log.error("model not ready: %s", loaded.reason)
        return
    loaded.reason = ""
    log.info("start-up prediction succeeded", extra={"fields": {"input": source}})
