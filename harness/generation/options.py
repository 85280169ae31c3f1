"""Backend options, declared once: each backend's frozen dataclass beside it (HFOptions in hf.py, ...), a field
per option with metadata {"help": ...} as TRL's configs have. From those declarations come
- the flags of `scoder generate`, `eval` and `serve` (add_option_arguments), with their help;
- the refusal of an option the chosen backend does not have (make_options);
- the recipe's `generation:` fields (with_recipe_options, on scoder.sampling.GenerationConfig): every option
  but those marked {"recipe": False}, which the method sets itself or must leave alone.

An option that several backends declare (dtype, adapter) is one flag and one recipe field: they must agree
on its type, default and recipe mark; each keeps its own help.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass

from harness.generation.backend import BACKENDS, options_class


@dataclass(frozen=True)
class Option:
    name: str
    type: object  # the resolved annotation
    default: object
    recipe: bool
    helps: tuple[tuple[str, str], ...]  # (backend, its help) for each backend that declares it

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(backend for backend, _ in self.helps)


@functools.cache
def all_options() -> dict[str, Option]:
    """Every backend's options by name, in the order BACKENDS and their dataclasses list them."""
    found: dict[str, Option] = {}
    for backend in BACKENDS:
        declared = options_class(backend)
        hints = typing.get_type_hints(declared)
        for field in dataclasses.fields(declared):
            option = Option(field.name, hints[field.name], field.default, field.metadata.get("recipe", True),
                            ((backend, field.metadata["help"]),))
            _parsing(option)  # a type no flag can carry fails here, not when a command is given
            known = found.get(field.name)
            if known and (known.type, known.default, known.recipe) != (option.type, option.default, option.recipe):
                raise TypeError(f"option {field.name}: {', '.join(known.backends)} and {backend} declare it with another "
                                "type, default or recipe mark; one flag and one recipe field cannot carry both")
            found[field.name] = dataclasses.replace(known, helps=known.helps + option.helps) if known else option
    return found


def recipe_options() -> dict[str, Option]:
    return {name: option for name, option in all_options().items() if option.recipe}


def add_option_arguments(parser, backends: tuple[str, ...] = tuple(BACKENDS), leave_out: tuple[str, ...] = ()) -> None:
    """A flag for each option of these backends. Flags default to None, so that one given can be told from one
    left alone (make_options refuses a given flag the chosen backend does not have)."""
    for option in all_options().values():
        helps = [(backend, text) for backend, text in option.helps if backend in backends]
        if helps and option.name not in leave_out:
            parser.add_argument(option.flag, default=None, help=_help(option, helps, name_backends=len(backends) > 1),
                                **_parsing(option))


def options_from_arguments(backend: str, args):
    """The backend's options from parsed flags (add_option_arguments's)."""
    options = all_options()
    given = {name: getattr(args, name) for name in options if getattr(args, name, None) is not None}
    return make_options(backend, given, lambda name: options[name].flag)


def options_from_fields(backend: str, config, **set_by_caller):
    """The backend's options from a config that carries every recipe option as a field (with_recipe_options).
    A field at its default counts as not given: a recipe's `dtype: auto` and no dtype are the same recipe."""
    given = {name: getattr(config, name) for name, option in recipe_options().items() if getattr(config, name) != option.default}
    return make_options(backend, {**given, **set_by_caller})


def make_options(backend: str, given: dict, spell=lambda name: name):
    """The backend's options dataclass with the given values; an option it does not have is refused, naming
    the backends that have it (`spell` writes an option's name as the caller's user wrote it)."""
    declared = options_class(backend)
    own = [field.name for field in dataclasses.fields(declared)]
    foreign = [name for name in given if name not in own]
    if foreign:
        options = all_options()
        said = ", ".join(f"{spell(name)} (an option of {', '.join(options[name].backends)})" for name in foreign)
        raise ValueError(f"the {backend} backend has no {said}; its options: {', '.join(map(spell, own))}")
    return declared(**given)


def with_recipe_options(cls):
    """Class decorator, under @dataclass: every recipe option becomes a field of `cls`, with its declared type,
    default and help (one field for an option several backends share)."""
    for name, option in recipe_options().items():
        cls.__annotations__[name] = option.type
        setattr(cls, name, dataclasses.field(default=option.default, metadata={"help": _help(option, option.helps, True)}))
    return cls


def _help(option: Option, helps, name_backends: bool) -> str:
    texts = {text for _, text in helps}
    if not name_backends:
        said = helps[0][1]
    elif len(texts) == 1:
        said = f"{', '.join(backend for backend, _ in helps)}: {helps[0][1]}"
    else:
        said = "; ".join(f"{backend}: {text}" for backend, text in helps)
    return said if option.default is None or option.default is False else f"{said} (default: {option.default})"


def _parsing(option: Option) -> dict:
    """How argparse reads the option: its type, its choices, or (a bool off by default) its presence."""
    hint = option.type
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint, *others = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if others:
            raise TypeError(f"option {option.name}: a flag carries one type, not {option.type}")
    if hint is bool and option.default is False:
        return {"action": "store_true"}
    if typing.get_origin(hint) is typing.Literal:
        return {"choices": typing.get_args(hint)}
    if hint in (str, int, float):
        return {"type": hint}
    raise TypeError(f"option {option.name}: no flag for type {option.type} (str, int, float, a Literal, or a bool off by default)")
