"""Write JSON Schemas of the Catalog API change types from AWS's published shapes.

A dev script, not part of the installed package. It reads the generated pydantic models of
awslabs/aws-marketplace-catalog-api-shapes-for-python as text (``ast``, nothing is imported
or executed) and writes the facts they hold (field names, required or not, types, lengths,
patterns, enums, nested shapes) as one JSON Schema (draft 2020-12) per change type into
``tests/listing/catalog_schemas/``, with ``SOURCE.json`` naming the repository, the commit
and the files read. The schemas are a test oracle independent of ``smkit.listing.rules``.

Usage: python scripts/catalog_schemas.py GIT_DIR_OF_THE_SHAPES_REPOSITORY [OUT_DIR]
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPOSITORY = "https://github.com/awslabs/aws-marketplace-catalog-api-shapes-for-python"
#: entity type -> the folder of its change-type models in the shapes repository
PACKAGES = {
    "MachineLearningProduct@1.0":
        "src/aws_marketplace_catalog_shapes_machinelearningproduct_1_0_changetypes/models",
    "Offer@1.0": "src/aws_marketplace_catalog_shapes_offer_1_0/models",
}
CHANGE_DETAIL = "ChangeDetail"
SCALARS = {"str": "string", "StrictStr": "string", "bool": "boolean", "StrictBool": "boolean",
           "int": "integer", "StrictInt": "integer", "float": "number",
           "StrictFloat": "number"}
#: Field(...) keywords -> JSON Schema keywords, by the annotated value's kind
STRING_KW = {"min_length": "minLength", "max_length": "maxLength"}
ARRAY_KW = {"min_length": "minItems", "max_length": "maxItems"}
NUMBER_KW = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum",
             "lt": "exclusiveMaximum"}


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(git_dir), *args], check=True,
                          capture_output=True, text=True).stdout


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _field_kwargs(node: ast.expr) -> dict[str, Any]:
    """The literal keyword arguments of a ``Field(...)`` call (else {})."""
    if isinstance(node, ast.Call) and _name(node.func) == "Field":
        out = {}
        for kw in node.keywords:
            if kw.arg is not None and isinstance(kw.value, ast.Constant):
                out[kw.arg] = kw.value.value
        return out
    return {}


def _type(node: ast.expr) -> tuple[dict[str, Any], bool]:
    """(schema, optional) of one annotation."""
    if isinstance(node, ast.Subscript):
        head = _name(node.value)
        inner = node.slice
        if head == "Optional":
            schema, _ = _type(inner)
            return schema, True
        if head == "List":
            schema, _ = _type(inner)
            return {"type": "array", "items": schema}, False
        if head == "Annotated" and isinstance(inner, ast.Tuple):
            schema, optional = _type(inner.elts[0])
            for extra in inner.elts[1:]:
                kwargs = _field_kwargs(extra)
                kind = schema.get("type")
                table = (STRING_KW if kind == "string" else ARRAY_KW if kind == "array"
                         else NUMBER_KW if kind in ("integer", "number") else {})
                for key, value in kwargs.items():
                    if key in table:
                        schema[table[key]] = value
                    elif key in ("pattern", "regex"):
                        schema["pattern"] = _anchored(value)
            return schema, optional
        if head == "Union" and isinstance(inner, ast.Tuple):
            return {"anyOf": [_type(e)[0] for e in inner.elts]}, False
        if head == "Dict":
            return {"type": "object"}, False
        if head == "Literal":
            values = inner.elts if isinstance(inner, ast.Tuple) else [inner]
            return {"enum": [v.value for v in values if isinstance(v, ast.Constant)]}, False
    name = _name(node)
    if name in SCALARS:
        return {"type": SCALARS[name]}, False
    if name in ("Any", "object"):
        return {}, False
    return {"$ref": f"#/$defs/{name}"}, False


def _anchored(pattern: str) -> str:
    """A pydantic ``re.match`` pattern as a JSON Schema (search) pattern with the same meaning."""
    return f"^(?:{pattern})"


def _validator_patterns(cls: ast.ClassDef) -> dict[str, str]:
    """python field name -> the pattern its ``field_validator`` checks with ``re.match``."""
    out: dict[str, str] = {}
    for item in cls.body:
        if not isinstance(item, ast.FunctionDef):
            continue
        fields = [a.value for d in item.decorator_list if isinstance(d, ast.Call)
                  and _name(d.func) == "field_validator" for a in d.args
                  if isinstance(a, ast.Constant)]
        for node in ast.walk(item):
            if (isinstance(node, ast.Call) and _name(node.func) == "match" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                for field in fields:
                    out[field] = _anchored(node.args[0].value)
    return out


def _class_schema(cls: ast.ClassDef) -> dict[str, Any] | None:
    bases = {_name(b) for b in cls.bases}
    if "Enum" in bases:
        values = [s.value.value for s in cls.body if isinstance(s, ast.Assign)
                  and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)]
        return {"type": "string", "enum": values}
    if "BaseModel" not in bases:
        return None
    patterns = _validator_patterns(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for item in cls.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        if isinstance(item.annotation, ast.Subscript) and _name(
                item.annotation.value) == "ClassVar":
            continue
        schema, optional = _type(item.annotation)
        kwargs = _field_kwargs(item.value) if item.value is not None else {}
        alias = kwargs.get("alias", item.target.id)
        if item.target.id in patterns and schema.get("type") == "string":
            schema["pattern"] = patterns[item.target.id]
        if "description" in kwargs:
            schema["description"] = kwargs["description"]
        props[alias] = schema
        if not optional and "default" not in kwargs:
            required.append(alias)
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
        for value in schema.values():
            found |= _refs(value)
        return found
    if isinstance(schema, list):
        return set().union(*(_refs(v) for v in schema)) if schema else set()
    return set()


def generate(git_dir: Path, out_dir: Path) -> None:
    """Read the shapes at ``git_dir``'s HEAD and write the schemas and SOURCE.json."""
    commit = _git(git_dir, "rev-parse", "HEAD").strip()
    files: list[str] = []
    for entity, folder in PACKAGES.items():
        shapes: dict[str, dict[str, Any]] = {}
        for path in sorted(_git(git_dir, "ls-tree", "--name-only", "HEAD", folder + "/")
                           .split()):
            if not path.endswith(".py") or path.endswith("__init__.py"):
                continue
            files.append(path)
            tree = ast.parse(_git(git_dir, "show", f"HEAD:{path}"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    schema = _class_schema(node)
                    if schema is not None:
                        shapes[node.name] = schema
        target = out_dir / entity.replace("@", "_")
        target.mkdir(parents=True, exist_ok=True)
        for name, schema in sorted(shapes.items()):
            if not name.endswith(CHANGE_DETAIL):
                continue
            change_type = name[: -len(CHANGE_DETAIL)]
            needed: set[str] = set()
            todo = _refs(schema)
            while todo:
                ref = todo.pop()
                if ref not in needed:
                    needed.add(ref)
                    todo |= _refs(shapes[ref])
            doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "title": f"{entity} {change_type}", **schema}
            if needed:
                doc["$defs"] = {ref: shapes[ref] for ref in sorted(needed)}
            (target / f"{change_type}.json").write_text(json.dumps(doc, indent=1) + "\n")
    source = {"repository": REPOSITORY, "commit": commit, "files": files,
              "generator": "scripts/catalog_schemas.py",
              "notes": ["patterns come from field_validator re.match calls, anchored at the "
                        "start as re.match is",
                        "additionalProperties is false: each model lists its properties"]}
    (out_dir / "SOURCE.json").write_text(json.dumps(source, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    default = Path(__file__).resolve().parent.parent / "tests/listing/catalog_schemas"
    generate(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else default)
