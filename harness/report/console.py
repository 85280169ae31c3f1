"""Plain-text summaries printed to the console after an evaluation."""

from __future__ import annotations

import sys
from typing import Callable


def print_eval_summary(results: dict, titles, out=None) -> None:
    """Base and plus scores (HumanEval+, MBPP+); `titles`: the base tests' and the plus tests' column titles."""
    out = out or sys.stdout
    meta = results["scoder"]
    base_title, plus_title = titles
    ks = sorted(set(results["pass_at_k"]["base"]) | set(results["pass_at_k"]["plus"]), key=lambda k: int(k.split("@")[1]))
    rows = [(f"{base_title} (base tests)", results["pass_at_k"]["base"]), (f"{plus_title} (base + plus tests)", results["pass_at_k"]["plus"])]
    width = max(len(name) for name, _ in rows)
    print(f"{meta['benchmark']}: {meta['n_samples']} samples on {_tasks(meta)}, sandbox {', '.join(meta['isolation'])}", file=out)
    print(f"{'':<{width}}  " + "  ".join(f"{k:>7}" for k in ks), file=out)
    for name, scores in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{100 * scores[k]:7.1f}" if k in scores else f"{'-':>7}" for k in ks), file=out)
    if meta["missing_tasks"]:
        shown = ", ".join(meta["missing_tasks"][:5]) + (" ..." if len(meta["missing_tasks"]) > 5 else "")
        print(f"warning: {len(meta['missing_tasks'])} tasks have no samples and are not scored: {shown}", file=out)
    _print_timeouts(meta, out)
    _print_margins(meta, [(name, lambda scores, key=key: scores[key]) for (name, _), key in zip(rows, ("base", "plus"))],
                   results["pass_at_k"], out)
    print(f"results: {meta.get('output')}", file=out)


def print_pass_at_k(title: str, results: dict, out=None) -> None:
    """One benchmark with a single verdict per sample (BigCodeBench, LiveCodeBench)."""
    out = out or sys.stdout
    ground_truth = results.get("ground_truth") or {k: v for k, v in results.get("pass_at_k", {}).items() if k in ("gt_pass_rate", "failed_tasks")}
    if ground_truth:
        failed = ground_truth["failed_tasks"]
        print(f"{title}: reference solutions pass on {100 * ground_truth['gt_pass_rate']:.1f}% of tasks"
              + (f"; failing: {', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}" if failed else ""), file=out)
    if "scoder" not in results:
        return
    meta = results["scoder"]
    scores = {k: v for k, v in results["pass_at_k"].items() if k.startswith("pass@")}
    print(f"{title}: {meta['n_samples']} samples on {_tasks(meta)}, sandbox {', '.join(meta['isolation'])}", file=out)
    print("  ".join(f"{k} {100 * v:.1f}" for k, v in scores.items()), file=out)
    if meta["missing_tasks"]:
        shown = ", ".join(meta["missing_tasks"][:5]) + (" ..." if len(meta["missing_tasks"]) > 5 else "")
        print(f"warning: {len(meta['missing_tasks'])} tasks have no samples and are not scored: {shown}", file=out)
    _print_timeouts(meta, out)
    _print_margins(meta, [(title, lambda scores: scores)], results["pass_at_k"], out)
    print(f"results: {meta.get('output')}", file=out)


def _tasks(meta: dict) -> str:
    if meta.get("partial"):
        return f"{meta['partial']} (PARTIAL: these scores are not the benchmark's, nor comparable with them)"
    return f"{meta['n_tasks']} tasks"


def _print_timeouts(meta: dict, out) -> None:
    timeouts = meta.get("timeouts")
    if timeouts and timeouts["rechecked"]:
        print(f"timeouts: {timeouts['rechecked']} re-checked, {timeouts['confirmed']} confirmed "
              f"({timeouts['rechecked'] - timeouts['confirmed']} finished in time on the second run)", file=out)


def _print_margins(meta: dict, columns: list[tuple[str, Callable[[dict], dict]]], scores: dict, out) -> None:
    """How much of each pass@1 the machine's speed decides (harness.evaluation.score_range); `columns`: (title, what
    picks its pass@k out of a results' pass_at_k)."""
    margins = meta.get("margins")
    if not margins:
        return
    factor = f"{margins['factor']:g}"
    if not margins["near"]:
        print(f"margins: no verdict within a factor {factor} of a time limit: the scores hold on a machine {factor}x "
              "faster or slower", file=out)
        return
    print(f"margins: {margins['near']} verdicts within a factor {factor} of a time limit; on a machine {factor}x slower "
          f"or faster the scores could be:", file=out)
    for title, pick in columns:
        if "pass@1" in pick(scores):
            low, high = (100 * pick(margins[side])["pass@1"] for side in ("slower", "faster"))
            print(f"  {title}: between {low:.1f} and {high:.1f} (here {100 * pick(scores)['pass@1']:.1f})", file=out)
