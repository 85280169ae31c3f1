"""Libraries' progress bars off for a command no terminal watches (CI, a redirected log), where their carriage
returns make a mess. Imported by the command line (harness.cli) before any module that imports tqdm: tqdm reads its
TQDM_* variables once, when it is imported (tqdm 4.66+, utils.envwrap), so a variable set once the arguments are
parsed comes too late for bars libraries make with tqdm directly (transformers' GGUF loading). huggingface_hub's
switch covers the hub's bars and transformers' logging bars. The harness's own bars follow --progress."""

import os
import sys

WATCHED = sys.stderr.isatty() and not os.environ.get("CI")  # a terminal shows this process's output
if not WATCHED:
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
