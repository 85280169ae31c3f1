"""A seccomp filter for the process that runs untrusted code (imported inside the sandbox; stdlib only).

By default it makes the kernel refuse, whatever the isolation layer:
  - new processes (fork, vfork, clone without CLONE_THREAD; clone3 answers ENOSYS so that libc falls
    back to clone for threads): no fork bombs, no daemons left behind;
  - signals to any process but itself, ptrace and cross-process memory access: it cannot kill or
    tamper with its supervisor, the harness or other samples;
  - internet and raw sockets (AF_INET, AF_INET6, AF_PACKET), for machines without a network namespace;
  - new namespaces (unshare, setns).
Threads, files inside the sandbox and everything else a program legitimately does keep working.
Root is exempt from RLIMIT_NPROC, which is why process creation is stopped here rather than by rlimits.

Test styles whose official tests start processes and talk to local servers (BigCodeBench) relax it
with `processes=True`: fork and signals are allowed except to the `protected` pids (the supervisor)
and to everyone at once (kill(-1)), and internet sockets are left to the network namespace, which
only has loopback. That relaxed filter is only used inside a PID and network namespace, where the
supervisor counts and sweeps the processes (worker.py).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

# Classic BPF opcodes (linux/filter.h) and seccomp constants (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_CLONE_THREAD = 0x00010000
_DENIED_SOCKET_FAMILIES = (2, 10, 17)  # AF_INET, AF_INET6, AF_PACKET
_X32_SYSCALL_BIT = 0x40000000

# Offsets into struct seccomp_data: nr, arch, instruction pointer, then six 64-bit arguments.
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

_ARCHITECTURES = {
    "x86_64": dict(
        audit=0xC000003E, clone=56, fork=57, vfork=58, clone3=435, kill=62, tgkill=234, socket=41,
        denied=(200, 101, 310, 311, 424, 129, 297, 272, 308),  # tkill ptrace process_vm_* pidfd_send_signal rt_(tg)sigqueueinfo unshare setns
    ),
    "aarch64": dict(
        audit=0xC00000B7, clone=220, fork=None, vfork=None, clone3=435, kill=129, tgkill=131, socket=198,
        denied=(130, 117, 270, 271, 424, 138, 240, 97, 268),
    ),
}


class _Program:
    """A tiny assembler: instructions with symbolic jump targets, resolved to BPF's relative offsets."""

    def __init__(self):
        self.code: list[tuple] = []
        self.labels: dict[str, int] = {}

    def load(self, offset):
        self.code.append((_LD_W_ABS, None, None, offset))

    def jump(self, opcode, value, if_true, if_false=None):
        self.code.append((opcode, if_true, if_false, value))

    def ret(self, value):
        self.code.append((_RET_K, None, None, value))

    def label(self, name):
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = b""
        for index, (opcode, if_true, if_false, k) in enumerate(self.code):
            jumps = [0 if target is None else self.labels[target] - index - 1 for target in (if_true, if_false)]
            out += struct.pack("HBBI", opcode, *jumps, k & 0xFFFFFFFF)
        return out


def _filter(arch: dict, own_pid: int, processes: bool = False, protected: tuple[int, ...] = ()) -> bytes:
    deny = _RET_ERRNO | errno.EPERM
    p = _Program()
    p.load(_ARCH)
    p.jump(_JEQ_K, arch["audit"], None, "deny")
    p.load(_NR)
    if arch["audit"] == _ARCHITECTURES["x86_64"]["audit"]:
        p.jump(_JGE_K, _X32_SYSCALL_BIT, "deny")
    if processes:
        _processes_allowed(p, arch, protected)
        return p.assemble()
    for name in ("fork", "vfork"):
        if arch[name] is not None:
            p.jump(_JEQ_K, arch[name], "deny")
    for number in arch["denied"]:
        p.jump(_JEQ_K, number, "deny")
    p.jump(_JEQ_K, arch["clone3"], "enosys")
    p.jump(_JEQ_K, arch["clone"], "clone")
    p.jump(_JEQ_K, arch["kill"], "kill")
    p.jump(_JEQ_K, arch["tgkill"], "tgkill")
    p.jump(_JEQ_K, arch["socket"], "socket")
    p.ret(_RET_ALLOW)
    p.label("clone")
    p.load(_ARG0_LOW)
    p.jump(_JSET_K, _CLONE_THREAD, "allow", "deny")
    p.label("kill")  # kill(pid): itself, its own process group (0) or -itself
    p.load(_ARG0_LOW)
    p.jump(_JEQ_K, own_pid, "allow")
    p.jump(_JEQ_K, 0, "allow")
    p.jump(_JEQ_K, -own_pid, "allow", "deny")
    p.label("tgkill")  # tgkill(tgid, tid): its own threads only
    p.load(_ARG0_LOW)
    p.jump(_JEQ_K, own_pid, "allow", "deny")
    p.label("socket")
    p.load(_ARG0_LOW)
    for family in _DENIED_SOCKET_FAMILIES:
        p.jump(_JEQ_K, family, "deny")
    p.label("allow")
    p.ret(_RET_ALLOW)
    p.label("deny")
    p.ret(deny)
    p.label("enosys")
    p.ret(_RET_ERRNO | errno.ENOSYS)
    return p.assemble()


def _processes_allowed(p: _Program, arch: dict, protected: tuple[int, ...]) -> None:
    """The relaxed rules: everything but tampering with the protected pids, all processes at once,
    other processes' memory, and new namespaces."""
    for number in arch["denied"]:
        p.jump(_JEQ_K, number, "deny")
    p.jump(_JEQ_K, arch["clone3"], "enosys")  # libc falls back to clone, whose flags stay visible
    p.jump(_JEQ_K, arch["kill"], "kill")
    p.jump(_JEQ_K, arch["tgkill"], "kill")
    p.ret(_RET_ALLOW)
    p.label("kill")  # kill(pid) and tgkill(tgid): never -1 (everyone), a protected pid or its group
    p.load(_ARG0_LOW)
    p.jump(_JEQ_K, 0xFFFFFFFF, "deny")
    for pid in protected:
        p.jump(_JEQ_K, pid, "deny")
        p.jump(_JEQ_K, -pid, "deny")
    p.ret(_RET_ALLOW)
    p.label("deny")
    p.ret(_RET_ERRNO | errno.EPERM)
    p.label("enosys")
    p.ret(_RET_ERRNO | errno.ENOSYS)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def supported() -> bool:
    return platform.machine() in _ARCHITECTURES


def install(processes: bool = False, protected: tuple[int, ...] = ()) -> None:
    """Install the filter on the calling (single-threaded) process; raises OSError where it cannot.
    `processes`: the relaxed rules (see the module docstring), never signalling `protected` pids."""
    arch = _ARCHITECTURES.get(platform.machine())
    if arch is None:
        raise OSError(f"no seccomp filter for {platform.machine()}")
    program = _filter(arch, os.getpid(), processes, protected)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    fprog = _SockFprog(len(program) // 8, program)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
