"""Build nested config dataclasses from plain YAML data, with errors that name the field and the problem.

Every config in the method is a dataclass beside the thing it configures (sft.SFTSettings,
sampling.SamplingConfig, ...); this module turns a mapping into one, checking types from the
annotations, so a recipe is validated by the same classes the code runs with.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the field (as a dotted path) and the problem."""


def build(cls, data, path: str = ""):
    """An instance of dataclass `cls` from `data` (a mapping; None means all defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path or 'recipe'}: expected a mapping of fields, got {_shown(data)}")
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known fields: {', '.join(fields)}"
            raise RecipeError(f"{where}: unknown field{hint}")
        values[key] = _convert(hints[key], value, where)
    for name, field in fields.items():
        if name not in values and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise RecipeError(f"{path + '.' if path else ''}{name}: required field is missing")
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:  # the dataclass' own range checks (__post_init__)
        raise RecipeError(f"{path or 'recipe'}: {error}") from None


def _convert(hint, value, where: str):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except RecipeError as error:
                errors.append(str(error))
        raise RecipeError(errors[0] if len(errors) == 1 else f"{where}: {_shown(value)} fits none of {', '.join(map(_name, options))}")
    if origin is typing.Literal:
        if value not in args:
            raise RecipeError(f"{where}: {_shown(value)} is not one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise RecipeError(f"{where}: expected a list, got {_shown(value)}")
        items = [_convert(args[0] if args else typing.Any, item, f"{where}[{index}]") for index, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: expected a mapping, got {_shown(value)}")
        key_type, value_type = args or (typing.Any, typing.Any)
        return {_convert(key_type, key, where): _convert(value_type, item, f"{where}.{key}") for key, item in value.items()}
    if hint is typing.Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: expected true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where}: expected an integer, got {_shown(value)}")
        return value
    if hint is float:
        # YAML reads 2e-5 (no dot) as a string: accept numeric strings for floats only.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where}: expected a number, got {_shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise RecipeError(f"{where}: expected a string, got {_shown(value)}")
        return value
    raise TypeError(f"{where}: config type {hint!r} is not supported by the recipe loader")


def _name(hint) -> str:
    return getattr(hint, "__name__", str(hint))


def _shown(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def as_dict(config) -> dict:
    """The plain data of a config, for manifests and hashes."""
    return dataclasses.asdict(config)
