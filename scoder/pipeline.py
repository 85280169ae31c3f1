"""The SCoder loop as a stage graph: cold start, N rounds of self-distillation, final synthesis, final
SFT of the target, evaluation through the harness, and a results table.

    snippets, seed -> coldstart -> {sample -> score -> select -> train} x N -> synthesize -> target
                   -> reference (LoRA on the seed, for gradient influence)      -> evaluate -> results

Each round trains the synthesizer afresh from its base model on the seed plus everything selected so
far (our reading of "retrained on what survives"; the paper does not say whether rounds accumulate).
Snippets are split into disjoint slices: one per round, then one for the final synthesis, so no snippet
is synthesized from twice.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Callable
from pathlib import Path

from harness import api as harness_api
from harness.benchmarks.registry import resolve
from harness.benchmarks.data import DataError
from harness.containers import generation_role
from harness.generation.backend import Decoding, load_backend
from scoder import influence, sampling, scoring, sft, synthesis
from scoder.instruction_data import load_instructions
from scoder.recipe import Recipe
from scoder.runner import Stage, brief, file_digest, read_manifest, read_records, write_json, write_records
from scoder.snippets import load_snippets


class PipelineError(RuntimeError):
    """A stage cannot go on; the message says which and why."""


def run_here(request, role: str) -> None:
    """A harness.api request run in this process, whatever its role's image would be."""
    harness_api.run(request)


@dataclass(frozen=True)
class Context:
    """How stages run, never what they make: what a body gets besides its configuration."""
    progress: bool = True
    run_request: Callable[[object, str], None] = run_here  # runs a harness.api request in a role's image


def stages(recipe: Recipe, progress: bool = True, run_request=None, missing: dict[str, str] | None = None) -> list[Stage]:
    """The stage graph of a recipe, in the order they run. `run_request(request, role)`: how the evaluate
    stage runs a harness.api request, a generation or an evaluation (default: here; scoder.stage_exec: in the
    role's container); it raises if the request fails. An input file that does not exist is a PipelineError, unless
    `missing` is given (the dry run): then it gets stage name -> the error, and the graph is built anyway
    (that stage's key stands for no file).

    Each stage's config is everything its body reads from the recipe, and the body is a module-level function
    that gets only that config (and the Context): what a stage makes cannot depend on a recipe field its key
    does not hash (tests/test_stage_keys.py checks every field)."""
    context = Context(progress, run_request or run_here)
    plan: list[Stage] = []
    if recipe.synthesis.samples:
        plan += _synthesizer_stages(recipe, missing)
    plan.append(_target_stage(recipe))
    plan.append(Stage("evaluate", {"evaluation": recipe.evaluation, "data_dir": _data_dir(recipe), "generation": recipe.generation,
                                   "target_model": recipe.target.model}, ("target",), _evaluate))
    plan.append(Stage("results", {"name": recipe.name, "description": recipe.description, "limit": recipe.evaluation.limit},
                      tuple(stage.name for stage in plan), _results))
    return [replace(stage, context=context) for stage in plan]


def _synthesizer_stages(recipe: Recipe, missing: dict[str, str] | None) -> list[Stage]:
    synthesizer = recipe.synthesizer
    trained = {"model": synthesizer.model, "template": synthesizer.template}  # what every synthesizer stage reads of it
    plan = [
        Stage("snippets", {"snippets": recipe.snippets, "needed": recipe.snippets_needed()}, (), _snippets),
        Stage("seed", {"path": synthesizer.seed_data,
                       "sha256": _digest_or_error(synthesizer.seed_data, "synthesizer.seed_data", "seed", missing)},
              (), _seed),
        Stage("coldstart", {**trained, "sft": synthesizer.sft}, ("seed",), _train_synthesizer),
    ]
    if recipe.selection.method == "gradient" and recipe.iterations:
        plan.append(Stage("reference", {**trained, "sft": recipe.selection.reference_sft, "keep_optimizer": True}, ("seed",),
                          _train_synthesizer))
    synthesizer_stage = "coldstart"
    selected: list[str] = []
    for round_number in range(1, recipe.iterations + 1):
        prefix = f"iteration-{round_number}"
        window = ((round_number - 1) * recipe.sampling.snippets_per_iteration, round_number * recipe.sampling.snippets_per_iteration)
        plan.append(Stage(f"{prefix}/sample", {**trained, "sampling": recipe.sampling, "generation": recipe.generation,
                                               "snippets": window, "synthesizer_stage": synthesizer_stage},
                          ("snippets", synthesizer_stage), _sample))
        plan.append(Stage(f"{prefix}/score", {"scoring": recipe.scoring, "judge": recipe.scoring.judge or synthesizer.model,
                                              "generation": recipe.generation},
                          (f"{prefix}/sample",), _score))
        inputs = (f"{prefix}/score", "seed") + (("reference",) if recipe.selection.method == "gradient" else ())
        plan.append(Stage(f"{prefix}/select", {**trained, "selection": recipe.selection}, inputs, _select))
        selected.append(f"{prefix}/select")
        plan.append(Stage(f"{prefix}/train", {**trained, "sft": synthesizer.sft}, ("seed", *selected), _train_synthesizer))
        synthesizer_stage = f"{prefix}/train"
    start = recipe.iterations * recipe.sampling.snippets_per_iteration
    window = (start, start + recipe.synthesis.samples)
    plan.append(Stage("synthesize", {**trained, "synthesis": recipe.synthesis, "generation": recipe.generation,
                                     "snippets": window, "synthesizer_stage": synthesizer_stage, "seed": recipe.sampling.seed,
                                     "data_dir": _data_dir(recipe)},
                      ("snippets", synthesizer_stage), _synthesize))
    return plan


def _digest_or_error(path: str, field_name: str, stage: str, missing: dict[str, str] | None) -> str | None:
    if not Path(path).is_file():
        if missing is None:
            raise PipelineError(f"{field_name}: {path} does not exist")
        missing[stage] = f"{field_name}: {path} does not exist"
        return None
    return file_digest(path)


def _data_dir(recipe: Recipe) -> str | None:
    return recipe.evaluation.data_dir or os.environ.get("SCODER_DATA_DIR")


def benchmark_data(recipe: Recipe) -> Iterator[str]:
    """Where each benchmark the recipe evaluates will find its data, a line each, in order; a PipelineError naming
    the benchmark and the fix where the data cannot be had. Asked before the first stage runs: hours of training
    must not end in an evaluation without its data."""
    for name in recipe.evaluation.benchmarks:
        try:
            yield f"{name}: {harness_api.data_availability(name, _data_dir(recipe))}"
        except DataError as error:
            raise PipelineError(f"evaluation.benchmarks: {name}: {error}") from None


# --- stage bodies: each gets (its config, its folder, its inputs' folders, the Context) ------------

def _snippets(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    snippets = load_snippets(config["snippets"])
    if len(snippets) < config["needed"]:
        raise PipelineError(f"snippets: the pool has {len(snippets)} snippets, the recipe uses {config['needed']}")
    write_records(folder, snippets)
    return {"snippets": len(snippets)}


def _seed(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    """The proprietary synthesis samples: {"snippet", "problem", "solution"} per line."""
    path = config["path"]
    records = []
    for number, line in enumerate(Path(path).read_text().split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            missing = [key for key in ("snippet", "problem", "solution") if not isinstance(record.get(key), str) or not record[key].strip()]
        except ValueError as error:
            raise PipelineError(f"{path} line {number}: not JSON ({error})") from None
        if missing:
            raise PipelineError(f"{path} line {number}: needs non-empty strings {', '.join(missing)}")
        records.append({"id": f"seed-{number}", **{key: record[key] for key in ("snippet", "problem", "solution")}})
    if not records:
        raise PipelineError(f"{path}: no seed samples")
    write_records(folder, records)
    return {"samples": len(records)}


def _synthesizer_examples(template: synthesis.SynthesisTemplate, folders) -> list[dict]:
    return [synthesis.synthesizer_example(record["snippet"], record["problem"], record["solution"], template)
            for folder in folders for record in read_records(folder)]


def _train_synthesizer(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    """The cold start, each round's retraining (on the seed and every selection so far: its inputs, in order) and
    the reference LoRA, whose checkpoints keep their Adam moments for gradient influence."""
    examples = _synthesizer_examples(config["template"], inputs.values())
    checkpoints = sft.train(config["model"], examples, folder, config["sft"], context.progress,
                            keep_optimizer=config.get("keep_optimizer", False))
    return {"examples": len(examples), "checkpoints": [path.name for path in checkpoints]}


def checkpoints_of(folder: Path) -> list[Path]:
    found = sft.checkpoints_in(folder)
    if not found:
        raise PipelineError(f"{folder}: the training stage left no checkpoints")
    return found


def _sample(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    start, end = config["snippets"]
    snippets = read_records(inputs["snippets"])[start:end]
    settings = config["sampling"]
    chosen = sampling.spread(checkpoints_of(inputs[config["synthesizer_stage"]]), settings.checkpoints)
    decoding = Decoding(settings.samples_per_checkpoint, settings.temperature, settings.top_p, settings.max_new_tokens,
                        settings.seed, config["generation"].batch_size)
    candidates = sampling.sample(config["model"], chosen, snippets, config["template"], decoding, config["generation"],
                                 folder / "candidates.journal.jsonl", context.progress)
    write_records(folder, candidates)
    parsed = sum(1 for candidate in candidates if candidate["problem"])
    return {"snippets": len(snippets), "checkpoints": [path.name for path in chosen], "candidates": len(candidates), "parsed": parsed}


def _score(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    [candidates_folder] = inputs.values()
    candidates = read_records(candidates_folder)
    settings, generation = config["scoring"], config["generation"]
    if not settings.enabled:
        kept = [candidate for candidate in candidates if candidate["problem"] and candidate["solution"]]
        write_records(folder, kept)
        return {"candidates": len(candidates), "parsed": len(kept), "kept": len(kept), "scorer": "off"}
    judge = load_backend(generation.backend, config["judge"], generation.backend_options())
    scored = scoring.score(candidates, settings, judge, generation.batch_size, folder / "scores.journal.jsonl", context.progress)
    kept = scoring.keep_top(scored, settings.keep_fraction)
    write_records(folder, scored, "scored.jsonl")
    write_records(folder, kept)
    mean = sum(sample["score"] for sample in scored) / len(scored) if scored else 0.0
    return {"candidates": len(candidates), "parsed": len(scored), "kept": len(kept), "mean_score": round(mean, 3)}


def _select(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    score_stage = next(iter(inputs))  # the round's score stage comes first (see _synthesizer_stages)
    scored = read_records(inputs[score_stage])
    settings = config["selection"]
    keep = max(1, round(len(scored) * settings.keep_fraction)) if scored else 0
    if settings.method == "none" or not scored:
        chosen = scored
    elif settings.method == "random":
        chosen = random.Random(settings.seed).sample(scored, keep)
    else:
        template = config["template"]
        examples = [synthesis.synthesizer_example(sample["snippet"], sample["problem"], sample["solution"], template) for sample in scored]
        references = _synthesizer_examples(template, [inputs["seed"]])
        scores = influence.influence_scores(config["model"], checkpoints_of(inputs["reference"]), examples, references,
                                            settings.gradients, context.progress)
        for sample, value in zip(scored, scores):
            sample["influence"] = None if math.isnan(value) else round(value, 6)  # NaN: no completion token fits
        write_records(folder, scored, "influence.jsonl")
        chosen = [scored[index] for index in influence.select_top(scores, keep)]
    write_records(folder, chosen)
    return {"candidates": len(scored), "selected": len(chosen), "method": settings.method}


def _synthesize(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    settings, generation = config["synthesis"], config["generation"]
    start, end = config["snippets"]
    snippets = read_records(inputs["snippets"])[start:end]
    final = checkpoints_of(inputs[config["synthesizer_stage"]])[-1]
    decoding = Decoding(1, settings.temperature, settings.top_p, settings.max_new_tokens, config["seed"], generation.batch_size)
    outputs = sampling.sample(config["model"], [final], snippets, config["template"], decoding, generation,
                              folder / "outputs.journal.jsonl", context.progress)
    parsed = [output for output in outputs if output["problem"] and output["solution"]]
    unique, duplicates = synthesis.deduplicate(parsed, settings.dedup)
    texts, not_checked = synthesis.benchmark_texts(settings.decontamination.benchmarks, config["data_dir"])
    for reason in not_checked.values():
        print(f"[synthesize] note: {reason}", flush=True)
    clean, contaminated = synthesis.decontaminate(unique, texts, settings.decontamination)
    write_records(folder, outputs, "outputs.jsonl")
    write_records(folder, clean)
    return {"snippets": len(snippets), "outputs": len(outputs), "parsed": len(parsed), "duplicates": duplicates,
            "contaminated": contaminated, "not_decontaminated": not_checked, "samples": len(clean), "checkpoint": final.name}


def _target_stage(recipe: Recipe) -> Stage:
    target = recipe.target
    sources = [(source, file_digest(source.source) if Path(source.source).is_file() else None) for source in target.instruction_data]
    inputs = ("synthesize",) if recipe.synthesis.samples else ()
    return Stage("target", {"model": target.model, "sft": target.sft, "instruction_data": sources}, inputs, _train_target)


def _train_target(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    synthetic = [synthesis.instruction_example(record["problem"], record["solution"])
                 for record in read_records(inputs["synthesize"])] if "synthesize" in inputs else []
    extra = [example for source, _ in config["instruction_data"] for example in load_instructions(source)]
    examples = synthetic + extra
    random.Random(config["sft"].seed).shuffle(examples)
    checkpoints = sft.train(config["model"], examples, folder, config["sft"], context.progress)
    return {"synthetic": len(synthetic), "instruction_data": len(extra), "checkpoints": [path.name for path in checkpoints]}


def _evaluate(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    evaluation, generation = config["evaluation"], config["generation"]
    final = checkpoints_of(inputs["target"])[-1]
    if sampling.is_adapter(final):
        model, options = config["target_model"], generation.backend_options(str(final))
    else:
        model, options = str(final), generation.backend_options()
    decoding = Decoding(max_new_tokens=evaluation.max_new_tokens or None, batch_size=generation.batch_size)
    results = {}
    for name in evaluation.benchmarks:
        benchmark, _ = resolve(name)
        stem = name.replace(":", "-").replace("+", "plus")
        samples = folder / f"{stem}.samples.jsonl"
        # Two requests, as the sandbox that executes has no model and no network (see stage_exec).
        generate = harness_api.GenerationRequest(name, model, str(samples), generation.backend, options, decoding,
                                                 evaluation.limit, config["data_dir"])
        execute = harness_api.EvaluationRequest(name, str(samples), str(folder / f"{stem}.eval_results.json"), config["data_dir"])
        context.run_request(generate, generation_role(generation.backend))
        context.run_request(execute, benchmark.execution_role)
        results[name] = {score: round(100 * value, 1) for score, value in harness_api.read_scores(execute).items()}
    write_json(folder / "scores.json", results)
    return {"checkpoint": final.name, "scores": results}


def _results(config: dict, folder: Path, inputs: dict[str, Path], context: Context) -> dict:
    stages_done = {name: read_manifest(path) for name, path in inputs.items()}
    scores = stages_done["evaluate"]["summary"]["scores"]
    columns = [(benchmark, kind) for benchmark, kinds in scores.items() for kind in kinds]
    header = "| recipe | " + " | ".join(f"{benchmark} {kind}" for benchmark, kind in columns) + " |"
    row = f"| {config['name']} | " + " | ".join(f"{scores[benchmark][kind]:.1f}" for benchmark, kind in columns) + " |"
    # the evaluate stage's scores are the table above; its row keeps the rest (time, checkpoint)
    data = [(name, {key: value for key, value in manifest["summary"].items() if key != "scores"})
            for name, manifest in stages_done.items()]
    lines = [f"# {config['name']}", "", config["description"], "", "pass@1 (%), greedy"
             + (f", first {config['limit']} tasks of each benchmark" if config["limit"] else ""), "",
             header, "|" + "---|" * (len(columns) + 1), row, "", "## Stages", "",
             "| stage | seconds | summary |", "|---|---|---|"]
    lines += [f"| {name} | {stages_done[name]['seconds']} | {brief(summary)} |" for name, summary in data]
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    write_json(folder / "results.json", {"recipe": config["name"], "scores": scores, "stages": {name: summary for name, summary in data}})
    return {"scores": scores, "table": str(folder / "results.md")}
