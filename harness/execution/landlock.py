"""Landlock for the process that runs untrusted code (imported inside the sandbox; stdlib only).

The kernel then refuses every change to the file system outside the run's own working directory
(writing, truncating, creating, removing, renaming, linking) and, from Landlock ABI 4, TCP bind and
connect (unless the caller keeps TCP for loopback servers inside a network namespace). Writing to
/dev/null stays allowed (subprocess.DEVNULL needs it). Reading stays allowed: programs import modules and read what they were given. This holds
in every isolation layer, so even without bubblewrap nothing outside the sandbox can be changed.
Linux 5.13+; where Landlock is missing the run goes on without it and the results say so.
"""

from __future__ import annotations

import ctypes
import os
import struct

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same numbers on x86_64 and aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Access rights (linux/landlock.h) and the ABI version that introduced them.
_WRITE_FILE, _REMOVE_DIR, _REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_MAKE_ANY = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_REFER, _TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2  # ABI 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def abi_version() -> int:
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, version)


def restrict_writes_to(*folders: str, tcp: bool = False) -> int:
    """Allow file-system changes only beneath `folders` from now on (and TCP only if `tcp`);
    returns the ABI used (0: none)."""
    abi = abi_version()
    if abi == 0:
        return 0
    handled = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_ANY
    if abi >= 2:
        handled |= _REFER
    if abi >= 3:
        handled |= _TRUNCATE
    if abi >= 4 and not tcp:
        attr = struct.pack("QQ", handled, _NET_BIND_TCP | _NET_CONNECT_TCP)
    else:
        attr = struct.pack("Q", handled)
    ruleset = _check(_libc.syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)), "create_ruleset")
    try:
        for folder in folders:
            _allow_beneath(ruleset, folder, handled)
        _allow_beneath(ruleset, os.devnull, handled & (_WRITE_FILE | _TRUNCATE))
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "restrict_self")
    finally:
        os.close(ruleset)
    return abi


def _allow_beneath(ruleset: int, path: str, access: int) -> None:
    beneath = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = struct.pack("=Qi", access, beneath)  # struct landlock_path_beneath_attr is packed
        _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), rule, ctypes.c_uint32(0)), "add_rule")
    finally:
        os.close(beneath)


def _check(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock {what}: {os.strerror(error)}")
    return result
