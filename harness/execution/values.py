"""Plain-value transport between the sandbox and the harness: JSON with type tags, never pickle.

JSON arrays are lists and scalars are themselves; every other type travels as a tagged object
{"__t": tag, ...}, so tuples stay tuples, dict keys keep their types and sets stay sets. Objects of
any other type become "opaque" and never compare equal to anything, so a program cannot pass by
returning an object whose __eq__ lies. Decoding only ever builds builtin types (and numpy arrays
from plain lists with a whitelisted dtype, and the standard library's Decimal and Fraction, whose
equality with numbers the official evaluators' == honours), so nothing the sandbox sends can run code here.

This module is imported inside the sandbox: standard library only, numpy when present.
"""

from __future__ import annotations

import base64
import decimal
import fractions
import itertools
import json
import sys

TAG = "__t"
_SCALARS = (str, int, float, bool, type(None))
# Integers this long would hit Python's 4300-digit str() limit; hex is exempt from it.
_LONG_INT_BITS = 12000
_NUMPY_KINDS = "biufcUS"  # bool, ints, floats, complex, unicode and byte strings
# Exact numbers larger than these are not decoded (the comparison then fails): a Fraction is normalised with
# a gcd on arrival, and no real output comes near them.
_MAX_DECIMAL_CHARS = 100_000
_MAX_FRACTION_BITS = 1 << 20


class Opaque:
    """A value of a type we do not transport. Equal to nothing, itself included."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<opaque {self.type_name}>"


def _subclass_markers():
    # A value whose type was a subclass of a builtin (namedtuple, Counter, IntEnum, numpy.float64 is
    # handled apart) decodes to a private subclass, so `type(out) == type(expected)` stays False as it
    # would be in the official evaluator, while == keeps the builtin's meaning.
    bases = (int, float, str, bytes, complex, tuple, list, dict, set, frozenset)
    return {base.__name__: type(f"{base.__name__}_subclass", (base,), {}) for base in bases}


_MARKERS = _subclass_markers()
_EXACT_COPY = {int: int.__int__, float: float.__float__, str: str.__str__}


def encode(value) -> str:
    """Encode `value` as one line of JSON (no newline inside)."""
    return "".join(encode_pieces(value))


def encode_pieces(value, items_per_piece: int = 65536):
    """The text of encode(value) in pieces, so that a huge flat output (millions of rows) can be hashed
    or written without first building all of its text in memory."""
    tagged = _tagged(value, 0)
    if type(tagged) is list and len(tagged) > items_per_piece:
        yield from _array_pieces(tagged, items_per_piece)
    elif type(tagged) is dict and tagged.get(TAG) == "rows" and len(tagged["v"]) > items_per_piece:
        yield _dumps({TAG: "rows", "outer": tagged["outer"], "v": []})[:-3]  # everything up to "v":
        yield from _array_pieces(tagged["v"], items_per_piece)
        yield "}"
    else:
        yield _dumps(tagged)


def compares_as_encoded(value) -> bool:
    """Whether `value` equals another value of which this is also true exactly when their encodings are equal: it is
    built of str and None alone, in lists and tuples (exact types, so the encoding is the value's own and decode gives
    it back). Numbers are not (1 == 1.0 == True, and evalplus compares floats within a tolerance), nor dicts and sets
    (equal in any order), nor subclasses (their own __eq__), nor nesting deep enough to be encoded as opaque."""
    level = [value]
    for _ in range(_MAX_EXACT_DEPTH):
        kinds = set(map(type, level))  # one C-level pass per level of nesting: outputs of millions of rows
        if not kinds <= _EXACT_KINDS:
            return False
        if kinds <= _EXACT_SCALARS:
            return True
        if not kinds.isdisjoint(_EXACT_SCALARS):
            level = [item for item in level if type(item) is list or type(item) is tuple]
        level = list(itertools.chain.from_iterable(level))
    return False


_EXACT_SCALARS = {str, type(None)}
_EXACT_KINDS = _EXACT_SCALARS | {list, tuple}
_MAX_EXACT_DEPTH = 100  # well under _tagged's 200


def _array_pieces(items, items_per_piece: int):
    yield "["
    for start in range(0, len(items), items_per_piece):
        yield ("," if start else "") + _dumps(items[start : start + items_per_piece])[1:-1]
    yield "]"


def _dumps(tagged) -> str:
    return json.dumps(tagged, separators=(",", ":"), allow_nan=True)


def decode(text: str | bytes | memoryview):
    return json.loads(bytes(text) if type(text) is memoryview else text, object_hook=_revive)


def _tagged(value, depth: int):
    if depth > 200:
        return {TAG: "opaque", "type": "too deeply nested"}
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and value.bit_length() > _LONG_INT_BITS:
            return {TAG: "int", "hex": hex(value)}
        return value
    if kind is list or kind is tuple:
        if _all_plain_scalars(value):
            return value if kind is list else {TAG: "tuple", "v": value}
        if set(map(type, value)) == {tuple} and _all_plain_scalars(list(itertools.chain.from_iterable(value))):
            # Rows of plain tuples (common in MBPP, sometimes millions): one tag, encoded by json in C.
            return {TAG: "rows", "outer": kind.__name__, "v": value}
        if kind is list:
            return [_tagged(item, depth + 1) for item in value]
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return _tagged_numpy(value, numpy)
    for base in (bool, int, float, str, bytes, complex, tuple, list, dict, set, frozenset):
        if isinstance(value, base):
            return _tagged_builtin(value, base, depth, subclass=kind is not base)
    if kind is bytearray:
        return {TAG: "bytearray", "b64": base64.b64encode(bytes(value)).decode()}
    if kind is decimal.Decimal:
        return {TAG: "decimal", "v": str(value)}  # exact, NaN and Infinity included
    if kind is fractions.Fraction:
        return {TAG: "fraction", "n": _tagged(value.numerator, depth + 1), "d": _tagged(value.denominator, depth + 1)}
    return {TAG: "opaque", "type": _type_name(kind)}


def _all_plain_scalars(items) -> bool:
    # One C-level pass; big outputs (millions of floats) are usually flat lists of scalars.
    kinds = set(map(type, items))
    if not kinds <= {str, int, float, bool, type(None)}:
        return False
    return int not in kinds or all(item.bit_length() <= _LONG_INT_BITS for item in items if type(item) is int)


def _tagged_builtin(value, base, depth: int, subclass: bool):
    # Read subclasses through the builtin's own methods: their overrides are not trusted to mean anything.
    name = base.__name__
    if base in (int, float, str):
        # int.__int__, float.__float__ and str.__str__ copy the builtin part of a subclass exactly
        plain = _EXACT_COPY[base](value) if subclass else value
        encoded = _tagged(plain, depth + 1)
        return {TAG: name, "v": encoded, "sub": True} if subclass else encoded
    if base is bytes:
        tagged = {TAG: "bytes", "b64": base64.b64encode(bytes.__bytes__(value) if subclass else value).decode()}
    elif base is complex:
        tagged = {TAG: "complex", "re": complex.__getattribute__(value, "real"), "im": complex.__getattribute__(value, "imag")}
    elif base is dict:
        tagged = {TAG: "dict", "v": [[_tagged(k, depth + 1), _tagged(v, depth + 1)] for k, v in dict.items(value)]}
    else:  # tuple, list (subclass), set, frozenset
        items = list(base.__iter__(value))
        tagged = {TAG: name, "v": items if _all_plain_scalars(items) else [_tagged(i, depth + 1) for i in items]}
    if subclass:
        tagged["sub"] = True
    return tagged


def _tagged_numpy(value, numpy):
    dtype = value.dtype
    if dtype.kind not in _NUMPY_KINDS:
        return {TAG: "opaque", "type": f"numpy {dtype}"}
    if isinstance(value, numpy.ndarray):
        return {TAG: "ndarray", "dtype": dtype.str, "shape": list(value.shape), "v": _tagged(value.ravel().tolist(), 0)}
    return {TAG: "npscalar", "dtype": dtype.str, "v": _tagged(value.item(), 0)}


def _type_name(kind) -> str:
    try:
        return f"{kind.__module__}.{kind.__qualname__}"
    except Exception:  # a hostile metaclass may raise from attribute access
        return "unknown"


def _revive(obj: dict):
    tag = obj.get(TAG)
    if tag is None:
        raise ValueError("untagged JSON object in a value")
    sub = obj.get("sub", False)
    if tag in ("int", "float", "str") and sub:
        return _MARKERS[tag](obj["v"])
    if tag == "int":
        return int(obj["hex"], 16)
    if tag == "rows":
        rows = [tuple(row) for row in obj["v"]]
        return rows if obj["outer"] == "list" else tuple(rows)
    if tag in ("tuple", "list", "set", "frozenset"):
        builtin = {"tuple": tuple, "list": list, "set": set, "frozenset": frozenset}[tag]
        return (_MARKERS[tag] if sub else builtin)(obj["v"])
    if tag == "dict":
        return (_MARKERS["dict"] if sub else dict)((key, value) for key, value in obj["v"])
    if tag in ("bytes", "bytearray"):
        raw = base64.b64decode(obj["b64"])
        if tag == "bytearray":
            return bytearray(raw)
        return _MARKERS["bytes"](raw) if sub else raw
    if tag == "complex":
        return (_MARKERS["complex"] if sub else complex)(obj["re"], obj["im"])
    if tag in ("ndarray", "npscalar"):
        return _revive_numpy(obj)
    if tag == "decimal":
        text = obj["v"]
        if type(text) is not str or len(text) > _MAX_DECIMAL_CHARS:
            raise ValueError("a Decimal too long to compare")
        return decimal.Decimal(text)
    if tag == "fraction":
        numerator, denominator = obj["n"], obj["d"]
        if type(numerator) is not int or type(denominator) is not int or denominator <= 0 \
                or max(numerator.bit_length(), denominator.bit_length()) > _MAX_FRACTION_BITS:
            raise ValueError("not a Fraction this harness compares")
        return fractions.Fraction(numerator, denominator)
    if tag == "opaque":
        return Opaque(str(obj.get("type")))
    raise ValueError(f"unknown value tag {tag!r}")


def _revive_numpy(obj: dict):
    import numpy

    dtype = numpy.dtype(obj["dtype"])
    if dtype.kind not in _NUMPY_KINDS or dtype.itemsize > 1024:
        raise ValueError(f"numpy dtype {dtype} is not transported")
    if obj[TAG] == "npscalar":
        return dtype.type(obj["v"])
    return numpy.array(obj["v"], dtype=dtype).reshape(obj["shape"])
