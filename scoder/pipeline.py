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
from dataclasses import asdict
from pathlib import Path

from harness.benchmarks import parse_options, resolve
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


def stages(recipe: Recipe, progress: bool = True, run_harness=None, missing: dict[str, str] | None = None) -> list[Stage]:
    """The stage graph of a recipe, in the order they run. `run_harness(argv, role)`: how the evaluate
    stage runs a `scoder generate` or `scoder eval` command (default: here; scoder.stage_exec: in the
    role's container); returns its exit code. An input file that does not exist is a PipelineError, unless
    `missing` is given (the dry run): then it gets stage name -> the error, and the graph is built anyway
    (that stage's key stands for no file)."""
    plan: list[Stage] = []
    if recipe.synthesis.samples:
        plan += _synthesizer_stages(recipe, progress, missing)
    plan.append(_target_stage(recipe, progress))
    plan.append(_evaluate_stage(recipe, run_harness or _harness_here))
    plan.append(Stage("results", {"name": recipe.name}, tuple(stage.name for stage in plan), _results_body(recipe)))
    return plan


def _synthesizer_stages(recipe: Recipe, progress: bool, missing: dict[str, str] | None) -> list[Stage]:
    synthesizer = recipe.synthesizer
    template = asdict(synthesizer.template)
    plan = [
        Stage("snippets", {"snippets": asdict(recipe.snippets), "needed": recipe.snippets_needed()}, (),
              lambda folder, _: _snippets_body(recipe, folder)),
        Stage("seed", {"path": synthesizer.seed_data,
                       "sha256": _digest_or_error(synthesizer.seed_data, "synthesizer.seed_data", "seed", missing)},
              (), lambda folder, _: _seed_body(synthesizer.seed_data, folder)),
        Stage("coldstart", {"model": synthesizer.model, "sft": asdict(synthesizer.sft), "template": template}, ("seed",),
              lambda folder, inputs: _train_synthesizer(recipe, folder, [inputs["seed"]], progress)),
    ]
    if recipe.selection.method == "gradient" and recipe.iterations:
        plan.append(Stage("reference", {"model": synthesizer.model, "sft": asdict(recipe.selection.reference_sft), "template": template},
                          ("seed",), lambda folder, inputs: _train_reference(recipe, folder, inputs["seed"], progress)))
    synthesizer_stage = "coldstart"
    selected: list[str] = []
    for round_number in range(1, recipe.iterations + 1):
        prefix = f"iteration-{round_number}"
        window = ((round_number - 1) * recipe.sampling.snippets_per_iteration, round_number * recipe.sampling.snippets_per_iteration)
        plan.append(Stage(f"{prefix}/sample", {"sampling": asdict(recipe.sampling), "generation": asdict(recipe.generation),
                                               "snippets": window, "template": template},
                          ("snippets", synthesizer_stage), _sample_body(recipe, synthesizer_stage, window, progress)))
        plan.append(Stage(f"{prefix}/score", {"scoring": asdict(recipe.scoring), "judge": recipe.scoring.judge or synthesizer.model},
                          (f"{prefix}/sample",), _score_body(recipe, f"{prefix}/sample", progress)))
        inputs = (f"{prefix}/score", "seed") + (("reference",) if recipe.selection.method == "gradient" else ())
        plan.append(Stage(f"{prefix}/select", {"selection": asdict(recipe.selection), "template": template}, inputs,
                          _select_body(recipe, f"{prefix}/score", progress)))
        selected.append(f"{prefix}/select")
        plan.append(Stage(f"{prefix}/train", {"model": synthesizer.model, "sft": asdict(synthesizer.sft), "template": template},
                          ("seed", *selected),
                          lambda folder, inputs, chosen=tuple(selected): _train_synthesizer(
                              recipe, folder, [inputs["seed"], *(inputs[name] for name in chosen)], progress)))
        synthesizer_stage = f"{prefix}/train"
    start = recipe.iterations * recipe.sampling.snippets_per_iteration
    window = (start, start + recipe.synthesis.samples)
    plan.append(Stage("synthesize", {"synthesis": asdict(recipe.synthesis), "generation": asdict(recipe.generation),
                                     "snippets": window, "template": template, "data_dir": _data_dir(recipe)},
                      ("snippets", synthesizer_stage), _synthesize_body(recipe, synthesizer_stage, window, progress)))
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


def _data_arguments(recipe: Recipe, variant: list[str]) -> list[str]:
    """A benchmark's arguments that select its data, as the evaluate stage passes them."""
    return variant + (["--data-dir", _data_dir(recipe)] if _data_dir(recipe) else [])


def benchmark_data(recipe: Recipe) -> Iterator[str]:
    """Where each benchmark the recipe evaluates will find its data, a line each, in order; a PipelineError naming
    the benchmark and the fix where the data cannot be had. Asked before the first stage runs: hours of training
    must not end in an evaluation without its data."""
    for name in recipe.evaluation.benchmarks:
        benchmark, variant = resolve(name)
        try:
            yield f"{name}: {benchmark.data_availability(parse_options(_data_arguments(recipe, variant)))}"
        except DataError as error:
            raise PipelineError(f"evaluation.benchmarks: {name}: {error}") from None


# --- stage bodies -------------------------------------------------------------------------------

def _snippets_body(recipe: Recipe, folder: Path) -> dict:
    snippets = load_snippets(recipe.snippets)
    if len(snippets) < recipe.snippets_needed():
        raise PipelineError(f"snippets: the pool has {len(snippets)} snippets, the recipe uses {recipe.snippets_needed()}")
    write_records(folder, snippets)
    return {"snippets": len(snippets)}


def _seed_body(path: str, folder: Path) -> dict:
    """The proprietary synthesis samples: {"snippet", "problem", "solution"} per line."""
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


def _synthesizer_examples(recipe: Recipe, folders: list[Path]) -> list[dict]:
    template = recipe.synthesizer.template
    return [synthesis.synthesizer_example(record["snippet"], record["problem"], record["solution"], template)
            for folder in folders for record in read_records(folder)]


def _train_synthesizer(recipe: Recipe, folder: Path, data: list[Path], progress: bool) -> dict:
    examples = _synthesizer_examples(recipe, data)
    checkpoints = sft.train(recipe.synthesizer.model, examples, folder, recipe.synthesizer.sft, progress)
    return {"examples": len(examples), "checkpoints": [path.name for path in checkpoints]}


def _train_reference(recipe: Recipe, folder: Path, seed: Path, progress: bool) -> dict:
    examples = _synthesizer_examples(recipe, [seed])
    # gradient influence reads every checkpoint's Adam moments
    checkpoints = sft.train(recipe.synthesizer.model, examples, folder, recipe.selection.reference_sft, progress, keep_optimizer=True)
    return {"examples": len(examples), "checkpoints": [path.name for path in checkpoints]}


def checkpoints_of(folder: Path) -> list[Path]:
    found = sft.checkpoints_in(folder)
    if not found:
        raise PipelineError(f"{folder}: the training stage left no checkpoints")
    return found


def _sample_body(recipe: Recipe, synthesizer_stage: str, window: tuple[int, int], progress: bool):
    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        snippets = read_records(inputs["snippets"])[window[0]:window[1]]
        chosen = sampling.spread(checkpoints_of(inputs[synthesizer_stage]), recipe.sampling.checkpoints)
        config = recipe.sampling
        decoding = Decoding(config.samples_per_checkpoint, config.temperature, config.top_p, config.max_new_tokens,
                            config.seed, recipe.generation.batch_size)
        candidates = sampling.sample(recipe.synthesizer.model, chosen, snippets, recipe.synthesizer.template, decoding,
                                     recipe.generation, folder / "candidates.journal.jsonl", progress)
        write_records(folder, candidates)
        parsed = sum(1 for candidate in candidates if candidate["problem"])
        return {"snippets": len(snippets), "checkpoints": [path.name for path in chosen], "candidates": len(candidates), "parsed": parsed}
    return body


def _score_body(recipe: Recipe, sample_stage: str, progress: bool):
    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        candidates = read_records(inputs[sample_stage])
        config = recipe.scoring
        if not config.enabled:
            kept = [candidate for candidate in candidates if candidate["problem"] and candidate["solution"]]
            write_records(folder, kept)
            return {"candidates": len(candidates), "parsed": len(kept), "kept": len(kept), "scorer": "off"}
        judge = load_backend(recipe.generation.backend, config.judge or recipe.synthesizer.model, recipe.generation.backend_options())
        scored = scoring.score(candidates, config, judge, recipe.generation.batch_size, folder / "scores.journal.jsonl", progress)
        kept = scoring.keep_top(scored, config.keep_fraction)
        write_records(folder, scored, "scored.jsonl")
        write_records(folder, kept)
        mean = sum(sample["score"] for sample in scored) / len(scored) if scored else 0.0
        return {"candidates": len(candidates), "parsed": len(scored), "kept": len(kept), "mean_score": round(mean, 3)}
    return body


def _select_body(recipe: Recipe, score_stage: str, progress: bool):
    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        scored = read_records(inputs[score_stage])
        config = recipe.selection
        keep = max(1, round(len(scored) * config.keep_fraction)) if scored else 0
        if config.method == "none" or not scored:
            chosen = scored
        elif config.method == "random":
            chosen = random.Random(config.seed).sample(scored, keep)
        else:
            template = recipe.synthesizer.template
            examples = [synthesis.synthesizer_example(sample["snippet"], sample["problem"], sample["solution"], template) for sample in scored]
            references = _synthesizer_examples(recipe, [inputs["seed"]])
            scores = influence.influence_scores(recipe.synthesizer.model, checkpoints_of(inputs["reference"]), examples, references,
                                                config.gradients, progress)
            for sample, value in zip(scored, scores):
                sample["influence"] = None if math.isnan(value) else round(value, 6)  # NaN: no completion token fits
            write_records(folder, scored, "influence.jsonl")
            chosen = [scored[index] for index in influence.select_top(scores, keep)]
        write_records(folder, chosen)
        return {"candidates": len(scored), "selected": len(chosen), "method": config.method}
    return body


def _synthesize_body(recipe: Recipe, synthesizer_stage: str, window: tuple[int, int], progress: bool):
    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        config = recipe.synthesis
        snippets = read_records(inputs["snippets"])[window[0]:window[1]]
        final = checkpoints_of(inputs[synthesizer_stage])[-1]
        decoding = Decoding(1, config.temperature, config.top_p, config.max_new_tokens, recipe.sampling.seed, recipe.generation.batch_size)
        outputs = sampling.sample(recipe.synthesizer.model, [final], snippets, recipe.synthesizer.template, decoding,
                                  recipe.generation, folder / "outputs.journal.jsonl", progress)
        parsed = [output for output in outputs if output["problem"] and output["solution"]]
        unique, duplicates = synthesis.deduplicate(parsed, config.dedup)
        texts, not_checked = synthesis.benchmark_texts(config.decontamination.benchmarks, _data_dir(recipe))
        for reason in not_checked.values():
            print(f"[synthesize] note: {reason}", flush=True)
        clean, contaminated = synthesis.decontaminate(unique, texts, config.decontamination)
        write_records(folder, outputs, "outputs.jsonl")
        write_records(folder, clean)
        return {"snippets": len(snippets), "outputs": len(outputs), "parsed": len(parsed), "duplicates": duplicates,
                "contaminated": contaminated, "not_decontaminated": not_checked, "samples": len(clean), "checkpoint": final.name}
    return body


def _target_stage(recipe: Recipe, progress: bool) -> Stage:
    target = recipe.target
    sources = [{**asdict(source), "sha256": file_digest(source.source) if Path(source.source).is_file() else None}
               for source in target.instruction_data]
    inputs = ("synthesize",) if recipe.synthesis.samples else ()

    def body(folder: Path, inputs_: dict[str, Path]) -> dict:
        synthetic = [synthesis.instruction_example(record["problem"], record["solution"])
                     for record in read_records(inputs_["synthesize"])] if "synthesize" in inputs_ else []
        extra = [example for source in target.instruction_data for example in load_instructions(source)]
        examples = synthetic + extra
        random.Random(target.sft.seed).shuffle(examples)
        checkpoints = sft.train(target.model, examples, folder, target.sft, progress)
        return {"synthetic": len(synthetic), "instruction_data": len(extra), "checkpoints": [path.name for path in checkpoints]}

    return Stage("target", {"model": target.model, "sft": asdict(target.sft), "instruction_data": sources}, inputs, body)


def _harness_here(argv: list[str], role: str) -> int:
    from harness.cli import main as scoder_main

    return scoder_main(argv)


def _evaluate_stage(recipe: Recipe, run_harness) -> Stage:
    evaluation = recipe.evaluation
    config = {**asdict(evaluation), "data_dir": _data_dir(recipe), "generation": asdict(recipe.generation)}

    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        final = checkpoints_of(inputs["target"])[-1]
        model = ["--model", recipe.target.model, "--adapter", str(final)] if sampling.is_adapter(final) else ["--model", str(final)]
        results = {}
        for name in evaluation.benchmarks:
            benchmark, variant = resolve(name)
            stem = name.replace(":", "-").replace("+", "plus")
            samples, output = folder / f"{stem}.samples.jsonl", folder / f"{stem}.eval_results.json"
            data = _data_arguments(recipe, variant)
            # Two commands, as the sandbox that executes has no model and no network (see stage_exec).
            generate = ["generate", "--benchmark", benchmark.name, *model, "--output", str(samples), *recipe.generation.command_line(),
                        "--no-progress", *data]
            generate += ["--limit", str(evaluation.limit)] if evaluation.limit else []
            generate += ["--max-new-tokens", str(evaluation.max_new_tokens)] if evaluation.max_new_tokens else []
            execute = ["eval", "--benchmark", benchmark.name, "--samples", str(samples), "--output", str(output), "--no-progress", *data]
            for argv, role in ((generate, generation_role(recipe.generation.backend)), (execute, benchmark.execution_role)):
                if run_harness(argv, role) != 0:
                    raise PipelineError(f"evaluate: scoder {' '.join(argv)} failed (its error is printed above)")
            results[name] = _pass_at_1(json.loads(output.read_text()))
        write_json(folder / "scores.json", results)
        return {"checkpoint": final.name, "scores": results}

    return Stage("evaluate", config, ("target",), body)


def _pass_at_1(results: dict) -> dict[str, float]:
    """pass@1 (percent) per test set of one results file: base and plus for evalplus, one for the others."""
    found = results.get("pass_at_k", {})
    if "pass@1" in found:
        return {"pass@1": round(100 * found["pass@1"], 1)}
    return {kind: round(100 * values["pass@1"], 1) for kind, values in found.items() if isinstance(values, dict) and "pass@1" in values}


def _results_body(recipe: Recipe):
    def body(folder: Path, inputs: dict[str, Path]) -> dict:
        stages_done = {name: read_manifest(path) for name, path in inputs.items()}
        scores = stages_done["evaluate"]["summary"]["scores"]
        columns = [(benchmark, kind) for benchmark, kinds in scores.items() for kind in kinds]
        header = "| recipe | " + " | ".join(f"{benchmark} {kind}" for benchmark, kind in columns) + " |"
        row = f"| {recipe.name} | " + " | ".join(f"{scores[benchmark][kind]:.1f}" for benchmark, kind in columns) + " |"
        # the evaluate stage's scores are the table above; its row keeps the rest (time, checkpoint)
        data = [(name, {key: value for key, value in manifest["summary"].items() if key != "scores"})
                for name, manifest in stages_done.items()]
        lines = [f"# {recipe.name}", "", recipe.description, "", "pass@1 (%), greedy"
                 + (f", first {recipe.evaluation.limit} tasks of each benchmark" if recipe.evaluation.limit else ""), "",
                 header, "|" + "---|" * (len(columns) + 1), row, "", "## Stages", "",
                 "| stage | seconds | summary |", "|---|---|---|"]
        lines += [f"| {name} | {stages_done[name]['seconds']} | {brief(summary)} |" for name, summary in data]
        (folder / "results.md").write_text("\n".join(lines) + "\n")
        write_json(folder / "results.json", {"recipe": recipe.name, "scores": scores,
                                             "stages": {name: summary for name, summary in data}})
        return {"scores": scores, "table": str(folder / "results.md")}
    return body
