"""lcb_runner's grading rules (lcb_runner/evaluation/testing_util.py, compute_code_generation_metrics.py and
runner/parser.py, read for this module and re-expressed, never copied): how a program is prepared and fed, how its
outputs are compared, the timeouts and the reliability guard.

Nothing here runs a program. The executor runs a PreparedProgram in its sandbox (see PreparedProgram) and
sends back what the entry returned; the harness judges that with stdio_outputs_match / call_outputs_match.
"""

from __future__ import annotations

import ast
import json
import resource
from dataclasses import dataclass
from decimal import Decimal

from harness.benchmarks.livecodebench.tasks import FUNCTIONAL, STDIN, Problem

# ------------------------------------------------------------------------------------------ grading: programs

# testing_util.import_string, prepended to every program: star imports (order matters: later ones shadow
# earlier names, and `import datetime` afterwards makes `datetime` the module), then plain imports.
_STAR_IMPORTED = (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
    "itertools", "functools", "operator", "io", "sys", "json", "builtins", "typing",
)
_IMPORTED = (
    "string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
    "itertools", "functools", "operator", "io", "sys", "json",
)
IMPORT_PRELUDE = (
    "".join(f"from {module} import *\n" for module in _STAR_IMPORTED)
    + "".join(f"import {module}\n" for module in _IMPORTED)
    + "sys.setrecursionlimit(50000)\n"
)
MODULE_NAME = "tmp_sol"  # testing_util.compile_code execs in ModuleType("tmp_sol"): __main__ guards left in don't run
ENTRY_NAME = "lcb_entry"
_WRAPPER_NAME = "wrapped_function"  # testing_util.make_function

# Appended to a stdin-style program: lcb_entry(stdin_text) runs wrapped_function once the way
# testing_util.grade_stdio does (Capturing around call_method) and returns what it printed. The patches are
# entered in the order mock enters stacked @patch decorators, bottom first: read/readlines/readline land on
# the sys.stdin the program loaded with (the prelude's `from sys import *` bound it as `stdin`), then sys.stdin
# becomes a fresh StringIO. Capturing's StringIO gets a close() that takes one argument, as upstream's does.
# Threads: programs that run `threading.Thread(target=main).start()` (deep recursion on a big stack) print from
# that thread. Upstream reads the captured output as soon as wrapped_function returns, which is when the main
# thread gets the GIL back: one switch interval after start(), so a thread that needs more CPU than that prints
# too late and fails (its official verdicts in ../shared/conformance/livecodebench: threads of 0.4-2.7 ms pass,
# of 17.5 and 386 ms fail with empty output). Here the program's threads get exactly that interval, counted on
# their own CPU clocks so that a busy machine does not shorten it; output is read after it or after they end.
_STDIO_ENTRY = f'''

def _lcb_stdio_entry(function):
    import sys
    import threading
    import time
    from contextlib import ExitStack
    from io import StringIO
    from unittest.mock import mock_open, patch

    def let_threads_have_their_interval(interval=sys.getswitchinterval()):
        for thread in threading.enumerate():
            if thread is threading.current_thread() or thread.native_id is None:
                continue
            cpu_clock = (~thread.native_id << 3) | 6  # Linux: the thread's own CPU clock (scheduler time)
            try:
                while thread.is_alive() and time.clock_gettime(cpu_clock) < interval:
                    thread.join(interval / 5)
            except OSError:  # the thread ended: its clock is gone
                pass

    def run(stdin_text):
        lines = iter(stdin_text.split("\\n"))
        replacements = (
            ("sys.stdin.read", lambda *args: stdin_text),
            ("sys.stdin.readlines", lambda *args: stdin_text.split("\\n")),
            ("sys.stdin.readline", lambda *args: next(lines)),
            ("sys.stdin", StringIO(stdin_text)),
            ("builtins.open", mock_open(read_data=stdin_text)),
        )
        captured = StringIO()
        captured.close = lambda x: 1
        saved_stdout, sys.stdout = sys.stdout, captured
        try:
            with ExitStack() as patches:
                for target, replacement in replacements:
                    patches.enter_context(patch(target, replacement))
                try:
                    function()
                except SystemExit:
                    pass
                let_threads_have_their_interval()
        finally:
            sys.stdout = saved_stdout
        return captured.getvalue()

    return run


{ENTRY_NAME} = _lcb_stdio_entry({_WRAPPER_NAME})
del _lcb_stdio_entry
'''


@dataclass(frozen=True)
class PreparedProgram:
    """A program ready for the sandbox. The child runs it the way lcb_runner's evaluation process does:

    1. Before loading: apply DISABLED_ATTRIBUTES / BLOCKED_MODULES (testing_util.reliability_guard runs before
       the program is compiled, so the prelude's `from builtins import *` copies quit = None), and give it a
       sys.stdin opened on os.devnull and a sys.stdout that discards (a multiprocessing child's): the prelude
       binds `stdin` and `stdout` to them.
    2. Load: namespace = {"__name__": MODULE_NAME}; exec(compile(text, ...), namespace) within TEST_TIMEOUT_S,
       compiled with no compiler flags of the harness's (testing_util.py line 160 execs the text as it is).
       An exception here, or no namespace[ENTRY_NAME] afterwards, fails every test (upstream compile error).
    3. Take entry = namespace[ENTRY_NAME] once; for each test in order, stopping at the first failure, within
       TEST_TIMEOUT_S each:
         STDIN:      entry(test.input) returns the captured stdout, judged by stdio_outputs_match;
         FUNCTIONAL: entry(*parse_call_inputs(test.input)) returns a value, judged by call_outputs_match
                     against parse_call_output(test.output).
       An exception from the entry fails that test. The sample passes when every test passes.
    """

    text: str
    style: str  # STDIN or FUNCTIONAL


def prepare_stdio_program(code: str) -> PreparedProgram:
    """testing_util.grade_stdio: clean_if_name, then make_function, then our entry. Code that does not parse
    is left as it is, as upstream leaves it: it then fails to load or leaves no entry."""
    wrapped = _wrap_in_function(_inline_main_guard(code))
    if wrapped is None:
        return PreparedProgram(code, STDIN)
    return PreparedProgram(wrapped + _STDIO_ENTRY, STDIN)


def _inline_main_guard(code: str) -> str:
    """testing_util.clean_if_name: a last top-level `if __name__ == '__main__':` is replaced by its body."""
    try:
        module = ast.parse(code)
        last = module.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(module.body[:-1]) + "\n" + ast.unparse(last.body)
        return code
    except Exception:  # noqa: BLE001 -- upstream's bare except: unparsable or empty code stays as it is
        return code


def _wrap_in_function(code: str) -> str | None:
    """testing_util.make_function: top-level imports stay at module level after the prelude; every other
    statement becomes the body of wrapped_function(). None where upstream falls back to the code unchanged."""
    try:
        module = ast.parse(code)
        imports = [node for node in module.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        others = [node for node in module.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
        function = ast.FunctionDef(
            name=_WRAPPER_NAME,
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
        return IMPORT_PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:  # noqa: BLE001 -- upstream's make_function catches everything too
        return None


def prepare_call_program(code: str, func_name: str) -> PreparedProgram:
    """testing_util.grade_call_based and compile_code: the prelude, two newlines, the code; then the callable is
    Solution().<func_name> when "class Solution" occurs anywhere in the code (upstream's own test, made once per
    program, so one instance serves every test), else the module's <func_name>."""
    text = IMPORT_PRELUDE + "\n\n" + code
    try:
        ast.parse(text)
    except Exception:  # noqa: BLE001 -- left as it is: it fails to load, as upstream's compile_code does
        return PreparedProgram(text, FUNCTIONAL)
    if "class Solution" in text:
        resolve = f"{ENTRY_NAME} = getattr(Solution(), {func_name!r})"
    else:
        resolve = f"{ENTRY_NAME} = globals()[{func_name!r}]"
    return PreparedProgram(f"{text}\n\n{resolve}\n", FUNCTIONAL)


def prepare_program(problem: Problem, code: str) -> PreparedProgram:
    if problem.style == FUNCTIONAL:
        return prepare_call_program(code, problem.func_name)
    return prepare_stdio_program(code)


# ------------------------------------------------------------------------------------------- grading: values


def parse_call_inputs(text: str) -> list:
    """testing_util.grade_call_based: one JSON value per line, the arguments in order."""
    return [json.loads(line) for line in text.split("\n")]


def parse_call_output(text: str) -> object:
    return json.loads(text)


def call_outputs_match(produced: object, expected: object) -> bool:
    """testing_util.grade_call_based: a returned tuple counts as a list (the top level only), then ==.
    No float tolerance. An error while comparing, or a result without a truth value, is a failure."""
    if isinstance(produced, tuple):
        produced = list(produced)
    try:
        return bool(produced == expected)
    except Exception:  # noqa: BLE001 -- upstream's try around the comparison: any error fails the test
        return False


def _stripped_lines(text: str) -> list[str]:
    # testing_util.get_stripped_lines: strip the whole text, split on "\n", strip each line.
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    # testing_util.convert_line_to_decimals
    try:
        return [Decimal(token) for token in line.split()]
    except (ArithmeticError, ValueError):  # decimal.InvalidOperation is an ArithmeticError
        return None


def stdio_outputs_match(produced: str, expected: str) -> bool:
    """testing_util.grade_stdio: the same number of stripped lines, and each line equal as text or, token by
    token, as Decimals (1.0 equals 1.00; no tolerance: 2.5000001 does not equal 2.5)."""
    produced_lines, expected_lines = _stripped_lines(produced), _stripped_lines(expected)
    if len(produced_lines) != len(expected_lines):
        return False
    for produced_line, expected_line in zip(produced_lines, expected_lines):
        if produced_line == expected_line:
            continue
        produced_numbers, expected_numbers = _decimals(produced_line), _decimals(expected_line)
        if produced_numbers is None or expected_numbers is None:
            return False
        try:
            if produced_numbers != expected_numbers:
                return False
        except ArithmeticError:  # a signalling NaN: upstream's comparison raises and the test fails
            return False
    return True


# ---------------------------------------------------------------------------------------- grading: the run

# lcb_runner's --timeout default (runner/parser.py; also run_test's and codegen_metrics' default): seconds of
# wall time (signal.alarm) for loading the program and again for each test.
TEST_TIMEOUT_S = 6


def machine_stack_bytes() -> int | None:
    """The stack limit lcb_runner runs programs with: its process's own, inherited from the machine (`ulimit -s`,
    8 MiB on most Linux systems). testing_util.py's run_test calls reliability_guard() without maximum_memory_bytes
    (line 437), and only that argument sets RLIMIT_STACK (lines 521-532; LiveCodeBench commit 28fef95). It decides
    verdicts: recursion through C code (an @lru_cache'd search, map, sorted with a key) crashes at a depth of tens of
    thousands in 8 MiB and runs in 4 GiB. None where the machine sets no limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    return None if soft == resource.RLIM_INFINITY else soft


def sample_timeout_s(test_count: int, test_timeout_s: int = TEST_TIMEOUT_S) -> int:
    """compute_code_generation_metrics.check_correctness: the whole sample's process is joined this long, then
    killed, and then every test counts as failed."""
    return (test_timeout_s + 1) * test_count + 5


# testing_util.reliability_guard (called with maximum_memory_bytes=None: no memory limit), which runs before
# the program loads: these attributes become None, these modules are unimportable (sys.modules[name] = None).
# It also sets OMP_NUM_THREADS=1. Checked entry by entry against lcb_runner/evaluation/testing_util.py at
# LiveCodeBench commit 15808c76 (lines 473-556):
#   builtins: line 503 `# builtins.exit = None` is commented out, so exit() stays usable (it raises SystemExit,
#             which call_method catches at line 140: what was printed before it is judged); quit (504) and
#             help (548, through __builtins__["help"]) become None;
#   os:       lines 510-536, fchdir listed twice upstream; shutil: 540-542; subprocess.Popen: 546;
#   modules:  sys.modules[...] = None at lines 552-556.
DISABLED_ATTRIBUTES = {
    "builtins": ("quit", "help"),
    "os": (
        "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
        "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
        "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
    ),
    "shutil": ("rmtree", "move", "chown"),
    "subprocess": ("Popen",),
}
BLOCKED_MODULES = ("ipdb", "joblib", "resource", "psutil", "tkinter")
# compute_code_generation_metrics.py line 7 raises the interpreter's limit on int <-> str conversion for the
# evaluating process, which the processes running programs inherit: printing a 10000-digit number works there.
INT_MAX_STR_DIGITS = 50000


