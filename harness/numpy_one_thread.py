"""numpy imported with one OpenBLAS thread in the command's own process, before anything else imports it. OpenBLAS
starts a thread per core as numpy is imported, and the thread spins a while: measured here, `import numpy` took 0.14-0.15
s of CPU, 0.07-0.08 s with one thread, at the start of every command, where an evaluation needs each core. The harness
does no linear algebra of its own. The variable is restored at once, so the processes a command starts keep the
machine's default; one the user set is left as it is."""

import os

if "OPENBLAS_NUM_THREADS" not in os.environ:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401 (OpenBLAS reads the variable as numpy loads it)
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]
