"""``smkit openapi``: the product's own OpenAPI document for ``/invocations``.

docs/openapi.yaml describes the server in general; this one is written from a packaged
artifact's manifest, so a buyer sees the real column names, their kinds, which may be
missing, the content types the product takes and gives, and the classes it predicts.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import smkit_contract.content_types as ct
import smkit_contract.manifest as mf
import yaml
from smkit_contract.signature import (
    KIND_PHRASE,
    Column,
    Signature,
    SignatureError,
    default_names,
    example_value,
    json_schema_of,
)

from smkit.core.errors import UserError

_ERROR_REF = {"$ref": "#/components/responses/Error"}


def read_manifest(artifact: Path) -> dict[str, Any]:
    """The manifest inside ``model.tar.gz`` (or a manifest.json given directly)."""
    if not artifact.is_file():
        raise UserError(f"{artifact} does not exist; run `smkit package` first (or give "
                        "--artifact PATH)")
    try:
        if artifact.name.endswith(".json"):
            data = json.loads(artifact.read_text(encoding="utf-8"))
        else:
            with tarfile.open(artifact, "r:gz") as tar:
                member = tar.extractfile(mf.FILENAME)
                if member is None:
                    raise KeyError(mf.FILENAME)
                data = json.loads(member.read())
        mf.validate(data)
    except (KeyError, OSError, tarfile.TarError, ValueError) as e:
        raise UserError(f"{artifact}: no readable {mf.FILENAME} ({e}); rebuild it with "
                        "`smkit package`") from None
    return dict(data)


def signature_of(manifest: dict[str, Any]) -> Signature | None:
    """The stored signature, or one of unknown kinds (numbers) from the model's width."""
    if manifest.get("signature") is not None:
        try:
            return Signature.from_json(manifest["signature"])
        except SignatureError as e:
            raise UserError(f"manifest.json: {e}") from None
    model = manifest.get("model") or {}
    names = model.get("feature_names") or (default_names(int(model["n_features"]))
                                           if model.get("n_features") else None)
    if not names:
        return None
    return Signature(tuple(Column(str(n), "number", True) for n in names),
                     frame=bool(model.get("feature_names")))


def _csv_cell(value: Any) -> str:
    text = "true" if value is True else str(value)
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def document(manifest: dict[str, Any], *, title: str, content_types: list[str],
             response_types: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document (as plain data) for this product."""
    sig = signature_of(manifest)
    model = manifest.get("model") or {}
    classes = model.get("classes")
    description = (f"{model.get('type') or 'model'} ({model.get('task') or 'other'}). "
                   "Errors are always {\"error\": \"...\"}; a bad cell's error names the "
                   "line, the column, the expected kind and the value.")
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "paths": {"/invocations": {"post": {
            "summary": "Predict; one output record per input record, in order.",
            "parameters": [
                {"name": "Accept", "in": "header", "required": False,
                 "schema": {"type": "string", "enum": response_types}},
                {"name": "X-Amzn-SageMaker-Custom-Attributes", "in": "header",
                 "required": False, "schema": {"type": "string", "maxLength": 1024},
                 "description": "output=probabilities for class probabilities"
                 if classes else "passed through"},
            ],
            "requestBody": {"required": True, "content": _request_content(sig, content_types)},
            "responses": {"200": {"description": "predictions in the negotiated type",
                                  "content": _response_content(classes, response_types)},
                          **{code: _ERROR_REF for code in
                             ("400", "406", "413", "415", "500", "503")}},
        }}},
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
            "responses": {"Error": {
                "description": "what went wrong and how to fix it",
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}}}},
        },
    }


def _request_content(sig: Signature | None, content_types: list[str]) -> dict[str, Any]:
    """The request body per content type the product takes, with the columns and examples."""
    lines = ([f"- {c.name}: {KIND_PHRASE[c.kind]}"
              + ("" if c.optional else " (required)") for c in sig.columns] if sig else [])
    columns_text = ("Columns, in this order:\n" + "\n".join(lines)) if lines else ""
    example_row = [example_value(c) for c in sig.columns] if sig else []
    request: dict[str, Any] = {}
    if ct.CSV in content_types:
        request[ct.CSV] = {
            "schema": {"type": "string", "description": (
                "One record per line, no header, UTF-8, RFC 4180 quoting (a cell holding a "
                "comma, a quote or a newline is quoted, quotes doubled). An empty cell is a "
                "missing value.\n" + columns_text)},
            **({"example": ",".join(_csv_cell(v) for v in example_row)} if sig else {}),
        }
    if ct.JSON in content_types:
        rows = _json_rows_schema(sig)
        request[ct.JSON] = {
            "schema": {"oneOf": [rows, {"type": "object", "required": ["instances"],
                                        "properties": {"instances": rows}}]},
            **({"example": {"instances": [dict(zip(sig.names, example_row, strict=True))]}}
               if sig else {}),
        }
    if ct.JSONLINES in content_types:
        request[ct.JSONLINES] = {"schema": {"type": "string", "description": (
            "One JSON row (a list in column order) or record (an object keyed by column "
            "name) per line. Use this for text that may hold newlines in batch transform: "
            "SplitType=Line splits CSV at every newline, even inside quotes.\n"
            + columns_text)}}
    if ct.NPY in content_types:
        request[ct.NPY] = {"schema": {"type": "string", "format": "binary", "description": (
            "One 2-D .npy array (numbers, or unicode strings for text columns), one row per "
            "record, columns in the order above; object arrays are refused.")}}
    return request


def _json_rows_schema(sig: Signature | None) -> dict[str, Any]:
    """JSON Schema of a list of rows, each a list in column order or a record by name."""
    if sig is not None:
        row = {"type": "array", "prefixItems": [json_schema_of(c) | {"title": c.name}
                                                for c in sig.columns],
               "minItems": len(sig.columns), "maxItems": len(sig.columns)}
        record = {"type": "object", "additionalProperties": False,
                  "properties": {c.name: json_schema_of(c) for c in sig.columns},
                  "required": [c.name for c in sig.columns if not c.optional]}
    else:
        row = {"type": "array", "items": {}}
        record = {"type": "object"}
    return {"type": "array", "items": {"oneOf": [row, record]}, "minItems": 1}


def _response_content(classes: Any, response_types: list[str]) -> dict[str, Any]:
    """The 200 answer per response type; JSON predictions are one of ``classes`` if known."""
    label: dict[str, Any] = {}
    if classes:
        label = {"enum": classes}
    responses_content: dict[str, Any] = {}
    for t in response_types:
        if t == ct.JSON:
            responses_content[t] = {"schema": {"type": "object", "properties": {
                "predictions": {"type": "array", "items": label or {}}}}}
        elif t == ct.NPY:
            responses_content[t] = {"schema": {"type": "string", "format": "binary"}}
        else:
            responses_content[t] = {"schema": {"type": "string", "description":
                                               "one prediction per line, in input order"}}
    return responses_content


def write(path: Path, doc: dict[str, Any]) -> Path:
    """Write the document as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    else:
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path
