"""What a model file needs, read without loading it: modules, versions, dangerous globals.

A pickle runs code when it is loaded, so the host never unpickles the seller's model (and
needs none of their libraries). Instead:

- the file is decompressed as joblib would (zlib, gzip, bz2, lzma/xz, lz4 when installed);
- the stdlib's ``pickletools.genops`` walks the opcodes, and a small symbolic stack (plain
  values and placeholders, nothing imported) reads two things from them: the
  ``_sklearn_version`` each scikit-learn estimator stores in its state, and joblib's
  ``NumpyArrayWrapper`` state, whose array bytes follow it raw in the file (they are skipped,
  and object arrays, written as a nested pickle, are scanned as pickles of their own);
- picklescan lists the globals of the opcode streams that remain and flags the dangerous
  ones (its list, plus a few more that no model needs);
- each top-level module is mapped to the distribution installed here
  (``importlib.metadata``); the rest is stdlib, or the seller's own code.

``model.skops`` files are zips whose ``schema.json`` names every type; they are read the same
way. :func:`scan_model` is the entry point; :meth:`ModelScan.python_section` is the
``python:`` section of ``smkit.yaml`` it suggests.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import importlib.machinery
import importlib.metadata
import importlib.util
import io
import json
import logging
import lzma
import mmap
import os
import pickle
import pickletools
import re
import sys
import zipfile
import zlib
from _compat_pickle import IMPORT_MAPPING
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

import yaml
from packaging.version import InvalidVersion, Version
from picklescan import scanner as picklescan
from smkit_contract import model_errors, names

from smkit.core.errors import UserError
from smkit.image.build import PYTHON_VERSION

# picklescan logs every dangerous global as a warning; this module reports them itself.
logging.getLogger("picklescan").addHandler(logging.NullHandler())
logging.getLogger("picklescan").propagate = False

#: Distributions for well-known top-level modules, to name what to add when one is not
#: installed here (an installed module is always looked up in importlib.metadata).
KNOWN_DISTRIBUTIONS: dict[str, str] = {
    "sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
    "joblib": "joblib", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost",
    "imblearn": "imbalanced-learn", "category_encoders": "category-encoders",
    "skops": "skops", "statsmodels": "statsmodels", "cloudpickle": "cloudpickle",
}
#: Compiled modules that pickle under a bare top-level name but belong to a package: their
#: Cython classes report ``__module__`` without the package (scikit-learn's loss functions,
#: in every HistGradientBoosting model, pickle as ``_loss.CyHalfSquaredError``).
TOP_LEVEL_ALIASES: dict[str, str] = {"_loss": "sklearn"}
#: Globals picklescan does not list that no model needs either (module -> names, "*": all;
#: a "*" module covers its submodules too).
EXTRA_UNSAFE: dict[str, frozenset[str] | str] = {
    "builtins": frozenset({"__import__", "globals", "locals", "vars", "setattr", "delattr",
                           "input", "exit", "quit", "help"}),
    "importlib": "*", "marshal": "*", "requests": "*", "httpx": "*", "urllib3": "*",
    "http": "*", "ftplib": "*", "smtplib": "*", "telnetlib": "*", "multiprocessing": "*",
    "signal": "*", "code": "*",
}
#: Magic bytes of joblib's compressed files (joblib.compressor's prefixes).
_ZLIB, _GZIP, _BZ2, _XZ, _LZMA, _LZ4, _ZFILE = (
    b"\x78", b"\x1f\x8b", b"BZ", b"\xfd7zXZ", b"\x5d\x00", b"\x04\x22\x4d\x18", b"ZF")
_SKLEARN = "scikit-learn"
_UNKNOWN_GLOBAL = "unknown"  # picklescan's name for a global computed at load time


class SecurityFinding(NamedTuple):
    """A global the pickle calls or imports that no model needs."""

    module: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}: {self.reason}"


class Mismatch(NamedTuple):
    """A distribution whose installed version differs from the one the model records."""

    distribution: str
    installed: str | None
    recorded: str
    detail: str

    def __str__(self) -> str:
        return self.detail


class UnresolvedModule(NamedTuple):
    """A module the model imports that no distribution installed here provides."""

    module: str
    #: The globals it is asked for (``features.MyTransformer``).
    globals: tuple[str, ...]
    #: Where it is importable from (a ``.py`` file or a package folder), if it is.
    origin: Path | None
    #: The PyPI distribution of a well-known module that is merely not installed here.
    distribution: str | None

    def request(self, base_dir: Path | None = None) -> str:
        """One line saying what the seller must declare for it."""
        used = ", ".join(self.globals[:3]) + (", ..." if len(self.globals) > 3 else "")
        if self.module == model_errors.MAIN_MODULE:
            return model_errors.defined_in_main(self.globals)
        if self.distribution:
            return (f"{self.module} ({used}) is not installed in this environment: add "
                    f"{self.distribution}==<the version you trained with> to python.packages")
        where = (f"found at {_rel(self.origin, base_dir)}, which python.source lists; check "
                 "it is the code the model was trained with" if self.origin else
                 "list the folder or .py file that defines it under python.source")
        return (f"{self.module} ({used}) is no installed distribution, so it is your own "
                f"code: {where}")


@dataclass(frozen=True)
class ModelScan:
    """What a model file needs, as read without loading it."""

    path: Path
    #: "pickle", "joblib" or "skops", with the compression: "joblib (zlib)".
    format: str
    #: Every ``(module, name)`` the model references, sorted.
    globals: tuple[tuple[str, str], ...]
    #: The modules of those globals (dotted, sorted).
    modules: tuple[str, ...]
    #: The scikit-learn versions recorded in the estimators' state (usually one).
    sklearn_versions: tuple[str, ...]
    #: ``name==version`` for the python section, one per distribution, sorted.
    requirements: tuple[str, ...]
    #: The distribution and version behind each requirement, and the modules that need it.
    distributions: dict[str, tuple[str, tuple[str, ...]]]
    unresolved_modules: tuple[UnresolvedModule, ...]
    security_findings: tuple[SecurityFinding, ...]
    mismatches: tuple[Mismatch, ...]
    notes: tuple[str, ...] = ()
    #: Installed from a local path or a VCS, so not on PyPI: dist -> where from.
    local_distributions: dict[str, str] = field(default_factory=dict)
    #: Standard-library modules the model names that the image's Python does not have.
    missing_stdlib: tuple[str, ...] = ()
    #: The image's Python to ask for (``python.version``), when not the default.
    python_version: str | None = None

    def unservable(self) -> list[str]:
        """Why no image can load this model, each with its fix (empty when one can).

        A class from the script that saved the model (``__main__``), or a standard module
        only a newer Python has: no python section fixes these, the model file must change.
        """
        out = [f"{self.path.name}: {model_errors.defined_in_main(u.globals)}"
               for u in self.unresolved_modules if u.module == model_errors.MAIN_MODULE]
        if self.missing_stdlib:
            out.append(model_errors.missing_stdlib(self.path.name, self.missing_stdlib,
                                                   PYTHON_VERSION))
        return out

    def python_section(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The ``python:`` mapping for ``smkit.yaml``; paths relative to ``base_dir``."""
        section: dict[str, Any] = {"packages": list(self.requirements)}
        if self.python_version:
            section["version"] = self.python_version
        sources = [_rel(u.origin, base_dir) for u in self.unresolved_modules if u.origin]
        if sources:
            section["source"] = list(dict.fromkeys(sources))
        return section

    def python_yaml(self, base_dir: Path | None = None) -> str:
        """The python section as YAML, with a comment per thing left for the seller."""
        text = yaml.safe_dump({"python": self.python_section(base_dir)}, sort_keys=False,
                              default_flow_style=False)
        todo = [u for u in self.unresolved_modules if u.origin is None]
        todo_local = sorted(self.local_distributions)
        extra = [f"  # TODO {u.request(base_dir)}" for u in todo]
        extra += [f"  # TODO {d} is installed from {self.local_distributions[d]}: build a wheel "
                  "(pip wheel --no-deps <its source> -w wheels/) and list wheels/ under "
                  "python.wheels" for d in todo_local]
        if self.missing_stdlib:
            extra.append("  # TODO " + model_errors.missing_stdlib(
                self.path.name, self.missing_stdlib, PYTHON_VERSION))
        header = (f"# the model's environment, read from {self.path.name} ({self.format}) by "
                  "`smkit env detect`\n")
        return header + text + "".join(line + "\n" for line in extra)

    def warnings(self, base_dir: Path | None = None) -> list[str]:
        """What the seller should read: security findings, mismatches, own modules, notes."""
        out = [f"SECURITY: {f}" for f in self.security_findings]
        out += [f"version mismatch: {m}" for m in self.mismatches]
        out += [f"unresolved module: {u.request(base_dir)}" for u in self.unresolved_modules]
        out += [f"local install: {d} is installed from {w}; it is not on PyPI: build a wheel "
                "and list it under python.wheels" for d, w in
                sorted(self.local_distributions.items())]
        if self.missing_stdlib:
            out.append("newer Python: " + model_errors.missing_stdlib(
                self.path.name, self.missing_stdlib, PYTHON_VERSION))
        out += [f"note: {n}" for n in self.notes]
        return out


def scan_model(path: Path, search_path: list[str] | None = None) -> ModelScan:
    """Scan the model file (or the model in a folder) at ``path`` without loading it.

    ``search_path`` is where the seller's own modules are looked for (default: the current
    directory, then ``sys.path``); nothing found there is imported. Raises UserError when the
    file is missing or not a pickle, joblib or skops file.
    """
    path = _model_path(Path(path))
    if path.suffix == ".skops":
        fmt, found, versions, extra_notes = "skops", *_scan_skops(path)
        needs = "skops"
    else:
        fmt, found, versions = _scan_pickle_file(path)
        extra_notes = []
        needs = "joblib"
    globals_ = tuple(sorted(found))
    modules = tuple(sorted({m for m, _ in globals_ if m != _UNKNOWN_GLOBAL}))
    findings = tuple(_security_findings(globals_))
    return _resolve(path, fmt, globals_, modules, versions, findings, needs, extra_notes,
                    search_path)


def check_servable(path: Path) -> ModelScan:
    """Scan the model at ``path`` and refuse one no image can load (UserError, the cause
    and the fix first): unreadable, a newer pickle protocol, :meth:`ModelScan.unservable`."""
    scan = scan_model(path)
    refuse_unservable(scan)
    return scan


def refuse_unservable(scan: ModelScan, after: str = "") -> None:
    """Raise UserError when no image can load the scanned model: the first cause and its fix
    on the first line, the others and ``after`` (how to go on anyway) on the lines below."""
    problems = scan.unservable()
    if problems:
        raise UserError(problems[0] + "".join(f"\n  also: {p}" for p in problems[1:])
                        + (f"\n  {after}" if after else ""))


def _model_path(path: Path) -> Path:
    if path.is_dir():
        try:
            return names.model_file(path)
        except names.ModelFileError as e:
            raise UserError(f"{e}; give --model the file itself") from None
    if not path.is_file():
        raise UserError(f"model file {path} does not exist; give the file you saved with "
                        "joblib.dump (e.g. model/model.joblib)")
    return path


# --- reading the bytes -------------------------------------------------------------------


def _decompressed(path: Path, head: bytes) -> tuple[str, bytes] | None:
    """(compression, bytes) for joblib's compressed formats; None for a plain stream."""
    if head.startswith(_ZFILE):
        raise UserError(f"{path.name} is in the compressed format of joblib < 0.10, which "
                        "smkit does not read: load it and save it again with joblib.dump")
    kinds: list[tuple[bytes, str]] = [(_ZLIB, "zlib"), (_GZIP, "gzip"), (_BZ2, "bz2"),
                                      (_XZ, "xz"), (_LZMA, "lzma"), (_LZ4, "lz4")]
    kind = next((name for magic, name in kinds if head.startswith(magic)), None)
    if kind is None:
        return None
    try:
        if kind == "zlib":
            return kind, zlib.decompress(path.read_bytes())
        if kind == "lz4":
            try:
                import lz4.frame  # optional: only a model saved with lz4 needs it
            except ImportError:
                raise UserError(f"{path.name} is lz4-compressed; pip install lz4 to scan it "
                                "(and declare lz4 in python.packages)") from None
            return kind, lz4.frame.decompress(path.read_bytes())
        opener: Any = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open,
                       "lzma": lzma.open}[kind]
        with opener(path, "rb") as f:
            return kind, f.read()
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise UserError(model_errors.not_loadable(
            path.name, f"{kind}-compressed, but does not decompress: {e}")) from None


def _scan_pickle_file(path: Path) -> tuple[str, set[tuple[str, str]], dict[str, set[str]]]:
    with path.open("rb") as f:
        head = f.read(8)
        if not head:
            raise UserError(model_errors.not_loadable(path.name, "the file is empty"))
        unpacked = _decompressed(path, head)
        mapped = None
        if unpacked is not None:
            kind, data = unpacked
            walker = _Walker(data)
        else:  # mapped, not read: the raw arrays are skipped, never copied
            kind = ""
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            walker = _Walker(mapped)
        try:
            walker.run(0)
        except _NewerProtocol as e:
            raise UserError(model_errors.newer_protocol(
                path.name, e.protocol, pickle.HIGHEST_PROTOCOL, PYTHON_VERSION)) from None
        except (_NotAPickle, RecursionError) as e:
            why = str(e) if isinstance(e, _NotAPickle) else "nested too deeply"
            raise UserError(model_errors.not_loadable(path.name, why)) from None
        finally:
            if mapped is not None:
                mapped.close()
    found: set[tuple[str, str]] = set()
    for segment in walker.segments:
        result = picklescan.scan_pickle_bytes(io.BytesIO(segment), str(path))
        found.update((g.module, g.name) for g in result.globals)
    fmt = "joblib" if walker.arrays or kind else "pickle"
    return (f"{fmt} ({kind})" if kind else fmt), found, walker.sklearn


class _NotAPickle(Exception):
    pass


class _NewerProtocol(Exception):
    """The stream's PROTO is above what the image's Python reads."""

    def __init__(self, protocol: int) -> None:
        super().__init__(protocol)
        self.protocol = protocol


class _Global(NamedTuple):
    module: str
    name: str


@dataclass(eq=False)
class _Obj:
    """An object the pickle would build: what it calls, with what, and its state."""

    callable: Any
    args: Any
    state: Any = None


_MARK = object()
_UNKNOWN = object()
#: Opcodes that push their argument as is.
_PUSH_ARG = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE",
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT",
})
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}


class _Stack:
    """The symbolic stack and memo of one pickle stream: values and placeholders only."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.memo: dict[int, Any] = {}

    def push(self, value: Any) -> None:
        """Push ``value``."""
        self.items.append(value)

    def pop(self) -> Any:
        """The top value, removed (a placeholder when the stack is empty)."""
        return self.items.pop() if self.items else _UNKNOWN

    def pop_mark(self) -> list[Any]:
        """The values above the last MARK, removed with it (all of them without a MARK)."""
        stack = self.items
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1:]
                del stack[i:]
                return items
        items = stack[:]
        stack.clear()
        return items

    def top(self) -> Any:
        """The top value, left in place (a placeholder when the stack is empty)."""
        return self.items[-1] if self.items else _UNKNOWN


def _data_op(s: _Stack, name: str, arg: Any) -> bool:
    """Apply a value, container, stack or memo opcode; False when ``name`` is none of those."""
    if name in _PUSH_ARG:
        s.push(arg)
    elif name in _CONSTANTS:
        s.push(_CONSTANTS[name])
    elif name == "MARK":
        s.push(_MARK)
    elif name == "EMPTY_TUPLE":
        s.push(())
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        items = [s.pop() for _ in range(n)][::-1]
        s.push(tuple(items))
    elif name == "TUPLE":
        s.push(tuple(s.pop_mark()))
    elif name in ("EMPTY_LIST", "EMPTY_SET"):
        s.push([])
    elif name == "LIST":
        s.push(s.pop_mark())
    elif name == "EMPTY_DICT":
        s.push({})
    elif name == "DICT":
        d: dict[Any, Any] = {}
        _set_items(d, s.pop_mark())
        s.push(d)
    elif name == "FROZENSET":
        s.pop_mark()
        s.push(_UNKNOWN)
    elif name == "APPEND":
        value = s.pop()
        if isinstance(s.top(), list):
            s.top().append(value)
    elif name in ("APPENDS", "ADDITEMS"):
        items = s.pop_mark()
        if isinstance(s.top(), list):
            s.top().extend(items)
    elif name == "SETITEM":
        value = s.pop()
        key = s.pop()
        _set_items(s.top(), [key, value])
    elif name == "SETITEMS":
        items = s.pop_mark()  # before top(): the dict is under the mark
        _set_items(s.top(), items)
    elif name == "POP":
        s.pop()
    elif name == "POP_MARK":
        s.pop_mark()
    elif name == "DUP":
        s.push(s.top())
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        s.memo[arg if isinstance(arg, int) else -1] = s.top()
    elif name == "MEMOIZE":
        s.memo[len(s.memo)] = s.top()
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        s.push(s.memo.get(arg if isinstance(arg, int) else -1, _UNKNOWN))
    else:
        return False
    return True


def _object_op(s: _Stack, name: str, arg: Any) -> bool:
    """Apply a global or object-building opcode (BUILD aside); False for any other opcode."""
    if name == "GLOBAL":
        module, _, qualname = str(arg).partition(" ")
        s.push(_Global(module, qualname))
    elif name == "STACK_GLOBAL":
        qualname, module = s.pop(), s.pop()
        ok = isinstance(module, str) and isinstance(qualname, str)
        s.push(_Global(module, qualname) if ok else _UNKNOWN)
    elif name == "INST":
        module, _, qualname = str(arg).partition(" ")
        s.push(_Obj(_Global(module, qualname), tuple(s.pop_mark())))
    elif name == "OBJ":
        items = s.pop_mark()
        s.push(_Obj(items[0] if items else _UNKNOWN, tuple(items[1:])))
    elif name in ("REDUCE", "NEWOBJ"):
        args = s.pop()
        s.push(_Obj(s.pop(), args))
    elif name == "NEWOBJ_EX":
        s.pop()  # kwargs
        args = s.pop()
        s.push(_Obj(s.pop(), args))
    elif name == "BINPERSID":
        s.pop()
        s.push(_UNKNOWN)
    elif name in ("PERSID", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER"):
        s.push(_UNKNOWN)
    else:
        return False
    return True


class _Walker:
    """Walks one pickle stream's opcodes with a symbolic stack; nothing is imported.

    Collects the opcode streams left once joblib's raw array bytes are cut out (``segments``,
    for picklescan), and the ``_sklearn_version`` values (version -> classes).
    """

    def __init__(self, buf: bytes | mmap.mmap) -> None:
        self.buf = buf
        self.stream: IO[bytes] | mmap.mmap = (
            buf if isinstance(buf, mmap.mmap) else io.BytesIO(buf))
        self.segments: list[bytes] = []
        self.sklearn: dict[str, set[str]] = {}
        self.arrays = 0

    def run(self, start: int) -> int:
        """Walk the pickle at ``start`` up to its STOP; return the offset after it."""
        self.stream.seek(start)
        s = _Stack()
        pieces: list[bytes] = []
        kept_from = start
        try:
            for op, arg, _pos in pickletools.genops(cast(IO[bytes], self.stream)):
                name = op.name
                if _data_op(s, name, arg) or _object_op(s, name, arg):
                    continue
                if name == "BUILD":
                    state = s.pop()
                    obj = s.top()
                    if isinstance(obj, _Obj):
                        obj.state = state
                        self._record_version(obj, state)
                        if _is_array_wrapper(obj):
                            at = self.stream.tell()
                            pieces.append(self.buf[kept_from:at])
                            kept_from = self._skip_array(obj, at)
                            self.stream.seek(kept_from)
                elif name == "PROTO" and isinstance(arg, int) and arg > pickle.HIGHEST_PROTOCOL:
                    raise _NewerProtocol(arg)
                elif name == "STOP":
                    end = self.stream.tell()
                    pieces.append(self.buf[kept_from:end])
                    self.segments.append(b"".join(pieces))
                    return end
                # FRAME, READONLY_BUFFER: nothing to track.
        except ValueError as e:  # genops: unknown opcode, truncated argument, bad text
            raise _NotAPickle(str(e)) from None
        raise _NotAPickle("no STOP opcode")

    def _record_version(self, obj: _Obj, state: Any) -> None:
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]  # (dict state, slot state)
        if isinstance(state, dict):
            version = state.get("_sklearn_version")
            if isinstance(version, str):
                cls = _class_of(obj)
                where = f"{cls.module}.{cls.name}" if isinstance(cls, _Global) else "?"
                self.sklearn.setdefault(version, set()).add(where)

    def _skip_array(self, wrapper: _Obj, at: int) -> int:
        """Offset after the array data that follows a NumpyArrayWrapper at ``at``."""
        self.arrays += 1
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        shape, dtype = state.get("shape"), state.get("dtype")
        if not (isinstance(shape, tuple) and all(isinstance(n, int) for n in shape)):
            raise _NotAPickle(f"a joblib array at byte {at} has no readable shape")
        itemsize, has_object = _dtype_size(dtype, at)
        if has_object:  # joblib pickles object arrays as a nested pickle of their own
            return self.run(at)
        count = 1
        for n in shape:
            count *= n
        size = count * itemsize
        if state.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2: padding
            if at >= len(self.buf):
                raise _NotAPickle(f"the file ends inside a joblib array at byte {at}")
            size += 1 + self.buf[at]
        if at + size > len(self.buf):
            raise _NotAPickle(f"the file ends inside a joblib array at byte {at}")
        return at + size


def _set_items(target: Any, items: list[Any]) -> None:
    if not isinstance(target, dict):
        return
    for key, value in zip(items[::2], items[1::2], strict=False):
        try:
            target[key] = value
        except TypeError:  # an unhashable placeholder as a key
            continue


def _class_of(obj: _Obj) -> Any:
    """The class an object is an instance of (through copyreg's protocol 0/1 helpers)."""
    fn = obj.callable
    if (isinstance(fn, _Global) and fn.module in ("copyreg", "copy_reg")
            and isinstance(obj.args, tuple) and obj.args):
        return obj.args[0]
    return fn


def _is_array_wrapper(obj: _Obj) -> bool:
    cls = _class_of(obj)
    return (isinstance(cls, _Global) and cls.name == "NumpyArrayWrapper"
            and cls.module.endswith("joblib.numpy_pickle"))


def _dtype_size(dtype: Any, at: int) -> tuple[int, bool]:
    """(itemsize, has Python objects) of a pickled numpy dtype: ``dtype('f8', ...)`` + state.

    numpy pickles a dtype as its type code and, in the state tuple (version, byte order,
    subarray, names, fields, elsize, alignment, flags), the size of flexible types.
    """
    if not (isinstance(dtype, _Obj) and isinstance(dtype.args, tuple) and dtype.args
            and isinstance(dtype.args[0], str)):
        raise _NotAPickle(f"a joblib array at byte {at} has no readable dtype")
    code = dtype.args[0]
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    fields = state[4] if len(state) > 4 else None
    has_object = code.startswith("O") or (isinstance(fields, dict) and any(
        isinstance(f, tuple) and f and _dtype_size(f[0], at)[1] for f in fields.values()))
    elsize = state[5] if len(state) > 5 and isinstance(state[5], int) else -1
    if elsize > 0:
        return elsize, has_object
    m = re.fullmatch(r"[A-Za-z]+(\d+)", code)
    if not m:
        raise _NotAPickle(f"a joblib array at byte {at} has an unknown dtype {code!r}")
    return int(m.group(1)), has_object


def _scan_skops(path: Path) -> tuple[set[tuple[str, str]], dict[str, set[str]], list[str]]:
    """Globals and scikit-learn versions from a skops file's schema.json (nothing loaded)."""
    try:
        with zipfile.ZipFile(path) as z:
            schema = json.loads(z.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise UserError(f"{path.name} is not a skops file ({e}); save it with "
                        "skops.io.dump(model, 'model.skops')") from None
    found: set[tuple[str, str]] = set()
    versions: dict[str, set[str]] = {}

    def walk(node: Any, owner: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, owner)
            return
        if not isinstance(node, dict):
            return
        module, cls = node.get("__module__"), node.get("__class__")
        if isinstance(module, str) and isinstance(cls, str):
            found.add((module, cls))
            if node.get("__loader__") == "ObjectNode":
                owner = f"{module}.{cls}"
        content = node.get("content")
        if isinstance(content, dict):
            if isinstance(content.get("module_path"), str) and isinstance(
                    content.get("function"), str):  # FunctionNode
                found.add((content["module_path"], content["function"]))
            version = content.get("_sklearn_version")
            if isinstance(version, dict) and isinstance(version.get("content"), str):
                text = version["content"]
                if version.get("is_json"):
                    with contextlib.suppress(ValueError):
                        text = json.loads(text)
                if isinstance(text, str):
                    versions.setdefault(text, set()).add(owner)
        for value in node.values():
            walk(value, owner)

    walk(schema, "?")
    notes: list[str] = []
    try:
        import skops.io as sio  # optional and heavy: only for a .skops model

        untrusted = sio.get_untrusted_types(file=path)
    except Exception:  # noqa: BLE001 - the note is optional; the types were read above
        untrusted = []
    if untrusted:
        notes.append(f"{path.name}: skops does not trust these types by default: "
                     f"{', '.join(untrusted)}; if you trust them, list them one per line in "
                     f"{names.SKOPS_TRUSTED_FILE} beside the model")
    return found, versions, notes


# --- what the globals mean ---------------------------------------------------------------


def _security_findings(globals_: tuple[tuple[str, str], ...]) -> Iterator[SecurityFinding]:
    """picklescan's verdict on each global, plus EXTRA_UNSAFE.

    picklescan judges opcode streams, so each name is handed to it as one (the skops
    schema's names too): two strings and a STACK_GLOBAL.
    """
    stream = b"\x80\x04" + b"".join(_text(m) + _text(n) + b"\x930" for m, n in globals_) + b"."
    dangerous = {(g.module, g.name) for g in picklescan.scan_pickle_bytes(
        io.BytesIO(stream), "globals").globals if g.safety == picklescan.SafetyLevel.Dangerous}
    for module, name in globals_:
        if module == _UNKNOWN_GLOBAL or name == _UNKNOWN_GLOBAL:
            yield SecurityFinding(module, name, "a global whose name is computed while "
                                  "loading; no model needs one")
        elif (module, name) in dangerous or _extra_unsafe(module, name):
            yield SecurityFinding(module, name, "runs code or reaches the system when the "
                                  "model loads; no model needs it")


def _text(value: str) -> bytes:
    """A BINUNICODE opcode pushing ``value``."""
    data = value.encode("utf-8", "surrogatepass")
    return b"X" + len(data).to_bytes(4, "little") + data


def _extra_unsafe(module: str, name: str) -> bool:
    module = IMPORT_MAPPING.get(module, module)
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        rule = EXTRA_UNSAFE.get(".".join(parts[:i]))
        if rule == "*" or (i == len(parts) and isinstance(rule, frozenset) and name in rule):
            return True
    return False


def _resolve(path: Path, fmt: str, globals_: tuple[tuple[str, str], ...],
             modules: tuple[str, ...], sklearn: dict[str, set[str]],
             findings: tuple[SecurityFinding, ...], loader: str, notes: list[str],
             search_path: list[str] | None) -> ModelScan:
    """Map modules to installed distributions; name what is missing or mismatched."""
    by_top: dict[str, list[str]] = {}
    for module in modules:
        top = IMPORT_MAPPING.get(module, module).split(".")[0]
        top = TOP_LEVEL_ALIASES.get(top, top)
        by_top.setdefault(top, []).append(module)
    installed = importlib.metadata.packages_distributions()
    dists: dict[str, tuple[str, tuple[str, ...]]] = {}
    local: dict[str, str] = {}
    unresolved: list[UnresolvedModule] = []
    missing_stdlib: list[str] = []
    for top, mods in sorted(by_top.items()):
        if top in sys.stdlib_module_names or top == "__builtin__":
            missing_stdlib += [m for m in mods if not _stdlib_has(m)]
            continue
        owners = installed.get(top)
        if not owners:
            asked = tuple(f"{m}.{n}" for m, n in globals_ if m in mods)
            own = top not in KNOWN_DISTRIBUTIONS and top != "__main__"
            origin = _find_source(top, search_path) if own else None
            unresolved.append(UnresolvedModule(top, asked, origin, KNOWN_DISTRIBUTIONS.get(top)))
            continue
        for owner in dict.fromkeys(owners):
            dist = importlib.metadata.distribution(owner)
            name = dist.metadata["Name"] or owner
            where = _local_origin(dist)
            if where:
                local[name] = where
                continue
            seen = dists.get(name, (dist.version, ()))[1]
            dists[name] = (dist.version, tuple(sorted({*seen, *mods})))
    # The server loads the file with joblib (skops for .skops), even if nothing names it.
    if not any(d.lower() == loader for d in dists) and loader not in local:
        try:
            dists[loader] = (importlib.metadata.version(loader), ())
            notes.append(f"{loader} is listed because the server loads {path.name} with it")
        except importlib.metadata.PackageNotFoundError:
            notes.append(f"{loader} is not installed here; add {loader}==<version> to "
                         "python.packages (the server loads the model with it)")
    versions = sorted(sklearn)
    mismatches = recorded_version_mismatches(dists, versions, modules, notes, sklearn)
    unresolved = [u for u in unresolved if not (u.module == "sklearn" and _SKLEARN in dists)]
    requirements = tuple(sorted((f"{d}=={v}" for d, (v, _) in dists.items()),
                                key=str.lower))
    return ModelScan(path=path, format=fmt, globals=globals_, modules=modules,
                     sklearn_versions=tuple(versions), requirements=requirements,
                     distributions=dists, unresolved_modules=tuple(unresolved),
                     security_findings=findings, mismatches=tuple(mismatches),
                     notes=tuple(notes), local_distributions=local,
                     missing_stdlib=tuple(missing_stdlib))


def _stdlib_has(module: str) -> bool:
    """Whether the image's Python has the standard module ``module`` (found, never imported).

    Only this Python's library can be asked, so a different one answers True. A module under
    a plain module (``pathlib._local``, which Python 3.13 pickles paths as) exists only as an
    attribute of an imported one (``os.path``).
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" != PYTHON_VERSION:
        return True
    parts = IMPORT_MAPPING.get(module, module).split(".")
    if parts[0] == "__builtin__":
        return True
    spec = importlib.util.find_spec(parts[0])
    for i in range(1, len(parts)):
        if spec is None:
            return False
        name = ".".join(parts[: i + 1])
        if spec.submodule_search_locations is None:  # a plain module: an attribute, if any
            parent = sys.modules.get(".".join(parts[:i]))
            return parent is not None and hasattr(parent, parts[i])
        spec = importlib.machinery.PathFinder.find_spec(name, spec.submodule_search_locations)
    return spec is not None


def recorded_version_mismatches(dists: dict[str, tuple[str, tuple[str, ...]]],
                                versions: list[str], modules: tuple[str, ...],
                                notes: list[str], sklearn: dict[str, set[str]],
                                where: str = "installed here") -> list[Mismatch]:
    """Compare the recorded versions with the environment's; pin what the model records.

    The product image must load the pickle, so scikit-learn is pinned to the one version the
    estimators recorded, even when the environment has another. ``where`` says where the
    versions in ``dists`` came from, as the notes word it ("installed here", "pinned in
    requirements.txt"). ``dists`` is updated in place.
    """
    out: list[Mismatch] = []
    sk_installed = dists.get(_SKLEARN, (None, ()))[0]
    if len(versions) == 1:
        recorded = versions[0]
        if sk_installed is None:
            dists[_SKLEARN] = (recorded, ("sklearn",))
            notes.append(f"scikit-learn is not {where}; pinned to {recorded}, the "
                         "version recorded in the model")
        elif sk_installed != recorded:
            dists[_SKLEARN] = (recorded, dists[_SKLEARN][1])
            out.append(Mismatch(_SKLEARN, sk_installed, recorded, (
                f"the model was saved with scikit-learn {recorded} but {sk_installed} is "
                f"{where}; python.packages pins {recorded}, the version that wrote it. "
                f"The other versions listed are the ones {where} (numpy records none): make "
                "them the ones you trained with")))
    elif len(versions) > 1:
        def key(v: str) -> tuple[int, Version | str]:
            try:
                return 1, Version(v)
            except InvalidVersion:
                return 0, v

        keep = sk_installed or max(versions, key=key)
        dists[_SKLEARN] = (keep, dists.get(_SKLEARN, ("", ("sklearn",)))[1])
        where = "; ".join(f"{v}: {', '.join(sorted(sklearn[v]))}" for v in versions)
        out.append(Mismatch(_SKLEARN, sk_installed, ", ".join(versions), (
            f"the model's estimators record several scikit-learn versions ({where}); "
            f"python.packages pins {keep}: make it the one that loads all of them")))
    np_installed = dists.get("numpy", (None, ()))[0]
    numpy2 = any(m.startswith("numpy._core") for m in modules)
    if np_installed and numpy2 and int(np_installed.split(".")[0]) < 2:
        out.append(Mismatch("numpy", np_installed, "2.x", (
            f"the model was saved with numpy 2 (it references numpy._core) but numpy "
            f"{np_installed} is {where}; pin the numpy 2 version you trained with")))
    return out


def _find_source(top: str, search_path: list[str] | None) -> Path | None:
    """Where the seller's module ``top`` would be imported from (nothing is imported)."""
    paths = search_path if search_path is not None else [os.getcwd(), *sys.path]
    spec = importlib.machinery.PathFinder.find_spec(top, [p or os.getcwd() for p in paths])
    if spec is None or spec.origin is None:  # a namespace package: no one folder to name
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin)
    return None


def _local_origin(dist: importlib.metadata.Distribution) -> str | None:
    """Where a distribution was installed from, when that is not an index (PEP 610)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = str(info.get("url") or "")
    # A local folder or file, or a VCS checkout; an https archive may well be on PyPI too.
    return url if url.startswith("file:") or "vcs_info" in info else None


def _rel(path: Path | None, base_dir: Path | None) -> str:
    if path is None:
        return ""
    base = (base_dir or Path.cwd()).resolve()
    try:
        return os.path.relpath(path.resolve(), base)
    except ValueError:  # another drive
        return str(path)
