"""Reliability guards the worker applies before a program loads (worker._apply_guard): attributes set to None and
modules made unimportable, as an official evaluator does, so that a program meets the same refusals there as here.
Shared by the benchmarks that run under evalplus' guard (HumanEval+, MBPP+, and CRUXEval, whose evaluation borrows
evalplus' execution); LiveCodeBench's own guard is in harness.benchmarks.livecodebench.grading."""

# evalplus 0.3.1 eval/utils.py reliability_guard, applied before a sample runs (see worker._apply_guard).
EVALPLUS_GUARD = {
    "attributes": {
        "builtins": ["exit", "quit", "open", "help"],
        "os": ["kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
               "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
               "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"],
        "shutil": ["rmtree", "move", "chown"],
        "subprocess": ["Popen"],
    },
    "modules": ["ipdb", "joblib", "resource", "psutil", "tkinter"],
}
