"""A stage's key hashes all the configuration its body gets, and its body gets nothing else.

Bodies are module-level functions with no closure, handed only their stage's config (and a Context that says how
they run, never what they make): reading a recipe field the key does not hash is impossible. Then every field of
the recipe is changed, one at a time, to another valid value: exactly the stages whose config holds it, and the
stages downstream of them, must change key; a field no stage reads must be one the recipe declares inert.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from scoder.config_loading import RecipeError, as_dict, build
from scoder.pipeline import stages
from scoder.recipe import Recipe, load_recipe
from scoder.runner import plain, stage_key
from tests.conftest import REPO

# Fields that decide where and how a run goes, never what a stage makes (and why).
INERT = {
    "run_dir": "where the run directory is",
    "containers": "where stages run: the same bodies, host or container (a run resumes across them)",
    "synthesizer.parameters": "the disk estimate's parameter count",
    "target.parameters": "the disk estimate's parameter count",
}
# Fields the recipe refuses to change alone, and why (what the test then cannot vary).
NOT_ALONE = {
    "generation.base_url": "only the openai backend takes it (the smoke recipe generates with hf)",
    "generation.tensor_parallel_size": "only the vllm backend takes it",
    "generation.data_parallel_size": "only the vllm backend takes it",
    "selection.reference_sft.method": "the reference model must be a LoRA (influence reads its adapter's optimizer)",
}
# Strings the recipe's validators take, tried after the free ones: a dtype, a GPU request, an accelerate config file.
KNOWN_STRINGS = ["float32", "all", "recipes/accelerate/zero2.yaml"]


@pytest.fixture()
def recipe(monkeypatch) -> Recipe:
    monkeypatch.chdir(REPO)  # the smoke recipe's data paths are relative to the repository
    return load_recipe("recipes/smoke.yaml")  # every kind of stage: two rounds, gradient selection, a reference, a target


def graph(recipe: Recipe) -> dict[str, tuple]:
    """name -> (key, plain config, inputs) of each stage, keys chained as the runner chains them."""
    keys, found = {}, {}
    for stage in stages(recipe, progress=False, missing={}):
        keys[stage.name] = stage_key(stage, {name: keys[name] for name in stage.inputs})
        found[stage.name] = (keys[stage.name], plain(stage.config), stage.inputs)
    return found


def test_bodies_see_only_their_config(recipe):
    for stage in stages(recipe, progress=False, missing={}):
        body = stage.body
        assert inspect.isfunction(body) and body.__closure__ is None and body.__qualname__ == body.__name__, (
            f"{stage.name}: its body must be a module-level function without a closure, so that it reads only the config it is given")
        assert list(inspect.signature(body).parameters) == ["config", "folder", "inputs", "context"], stage.name
        assert dataclasses.fields(stage.context) and not any(isinstance(getattr(stage.context, field.name), Recipe)
                                                              for field in dataclasses.fields(stage.context))


def leaves(data, path: str = ""):
    """(dotted path, value) of every leaf of a recipe's plain data; a list of mappings is entered at its first."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        yield from leaves(data[0], f"{path}.0")
    else:
        yield path, data


def alternatives(value, hint) -> list:
    """Other values of a field's type, most plausible first (the recipe's validation picks the first it takes)."""
    choices = [choice for argument in _flatten(hint) if typing.get_origin(argument) is typing.Literal for choice in typing.get_args(argument)]
    if choices:
        return [choice for choice in choices if choice != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2, value - 1, 1, 2]
    if isinstance(value, float):
        return [value * 0.5, value + 0.1, 0.5, 0.25, 1e9]
    if isinstance(value, str):
        return [value + "-changed", "mbpp+", "other", *(known for known in KNOWN_STRINGS if known != value)]
    if isinstance(value, list):
        return [value[:-1], value + ["mbpp+"], ["bigcodebench"]] if value else [["humaneval+"], ["x"]]
    types = {argument for argument in _flatten(hint)}
    return ([1, 2] if int in types else []) + ([0.5, 1e9] if float in types else []) + (["changed", *KNOWN_STRINGS] if str in types else [])


def _flatten(hint) -> list:
    return [leaf for argument in typing.get_args(hint) for leaf in _flatten(argument)] if typing.get_origin(hint) in (typing.Union, _union()) else [hint]


def _union():
    import types

    return types.UnionType


def field_hint(path: str):
    """The annotation of the field at a dotted path of Recipe."""
    cls, hint = Recipe, None
    for part in path.split("."):
        if part.isdigit():
            cls = typing.get_args(hint)[0]
            continue
        hint = typing.get_type_hints(cls)[part]
        cls = hint if dataclasses.is_dataclass(hint) else None
    return hint


def changed(data: dict, path: str, value) -> dict:
    copy = _deep_copy(data)
    *parents, last = path.split(".")
    target = copy
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return copy


def _deep_copy(data):
    if isinstance(data, dict):
        return {key: _deep_copy(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):  # as_dict keeps tuples; recipes are read as lists
        return [_deep_copy(value) for value in data]
    return data


def descendants(found: dict, names: set[str]) -> set[str]:
    reached = set(names)
    for name, (_, _, inputs) in found.items():  # in run order: inputs come first
        if reached & set(inputs):
            reached.add(name)
    return reached


def test_every_recipe_field_changes_exactly_the_stages_that_read_it(recipe):
    data = _deep_copy(as_dict(recipe))
    before = graph(recipe)
    unread, unchecked = [], []
    for path, value in leaves(data):
        if path in NOT_ALONE:
            continue
        mutated = None
        for candidate in alternatives(value, field_hint(path)):
            if candidate == value:
                continue
            try:
                mutated = build(Recipe, changed(data, path, candidate))
                after = graph(mutated)
                break
            except (RecipeError, ValueError, TypeError):
                continue
        if mutated is None:
            unchecked.append(path)
            continue
        common = before.keys() & after.keys()
        reading = {name for name in common if before[name][1] != after[name][1]}
        if before.keys() != after.keys():  # the field shapes the graph (iterations, selection.method, synthesis.samples)
            continue
        moved = {name for name in common if before[name][0] != after[name][0]}
        assert moved == descendants(before, reading), f"{path}: keys changed for {sorted(moved)}, read by {sorted(reading)}"
        if not reading and not any(path == inert or path.startswith(inert + ".") for inert in INERT):
            unread.append(path)
        if any(path == inert or path.startswith(inert + ".") for inert in INERT):
            assert not moved, f"{path} is declared inert but changes {sorted(moved)}"
    assert not unchecked, f"no valid other value found for {unchecked}: teach alternatives() their type"
    assert not unread, f"recipe fields no stage reads (a body using them would not be rerun when they change): {unread}"


def test_the_final_synthesis_is_keyed_on_the_sampling_seed_it_decodes_with(recipe):
    """The bug that asked for this design: with iterations 0, the synthesize stage decoded with sampling.seed
    but its key did not hash it, so a rerun reused outputs made with the old seed."""
    base = dataclasses.replace(recipe, iterations=0, selection=dataclasses.replace(recipe.selection, method="random"))
    other = dataclasses.replace(base, sampling=dataclasses.replace(base.sampling, seed=12345))
    assert graph(base)["synthesize"][0] != graph(other)["synthesize"][0]
