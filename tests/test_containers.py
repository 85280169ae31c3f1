"""The pinned containers, read statically (no Docker engine runs on these machines): every base image is
pinned by digest, every Python package comes from a hashed lock file, the lock files are complete and
match pyproject.toml, and the local lock is exactly the environment these tests run in."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import shlex
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from harness import containers
from harness.benchmarks.registry import BENCHMARKS, task_environments

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS = ROOT / "containers"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT_NAME = canonicalize_name(PROJECT["project"]["name"])

ROLES = containers.roles()
LOCKS = sorted(path.parent.name for path in CONTAINERS.glob("*/requirements.lock"))
# What issue 7 asks each role's lock to hold, beyond what its requirements.in says.
ROLE_EXTRAS = {"train": {"train"}, "vllm": {"vllm"}, "sandbox": set(), "local": {"dev"}}
ROLE_EXTRA_PACKAGES = {"train": {"deepspeed"}}

LOCK_ENTRY = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<hashes>( --hash=sha256:[0-9a-f]{64})+)")
# pip options that take a value, so that what follows them is not read as a package to install.
PIP_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "--build-constraint", "-i", "--index-url",
                     "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--report"}


# ---- readers ---------------------------------------------------------------------------------------

def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comment lines dropped (Dockerfile, lock file)."""
    lines, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current = " ".join((current + line).split())
        if current:
            lines.append(current)
        current = ""
    return lines


def read_lock(path: Path) -> dict[str, tuple[str, Version]]:
    """canonical name -> (name, version); fails on any line that is not `name==version --hash=sha256:...`."""
    pinned = {}
    for line in logical_lines(path.read_text()):
        entry = LOCK_ENTRY.fullmatch(line)
        assert entry, f"{path.relative_to(ROOT)}: not pinned by version and sha256: {line!r}"
        key = canonicalize_name(entry["name"])
        assert key not in pinned, f"{path.relative_to(ROOT)}: {entry['name']} twice"
        pinned[key] = (entry["name"], Version(entry["version"]))
    return pinned


def lock_sources(path: Path) -> list[str]:
    """The distributions lock.sh marked as source distributions (built at install)."""
    found = re.search(r"^# Source distributions, built at install: (.+)$", path.read_text(), re.M)
    return found[1].split(", ") if found else []


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction of a Dockerfile's text."""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical_lines(dockerfile)]


def pip_installs(shell: str) -> list[list[str]]:
    """The arguments after `install` of every `pip install` / `python -m pip install` in a shell line."""
    installs = []
    for command in re.split(r"&&|\|\||;|\|", shell):
        argv = shlex.split(command)
        for start in range(len(argv) - 1):
            is_pip = Path(argv[start]).name.startswith("pip") or argv[start - 1 : start + 1] == ["-m", "pip"]
            if is_pip and argv[start + 1] == "install":
                installs.append(argv[start + 2 :])
                break
    return installs


def parse_pip_install(arguments: list[str]) -> tuple[set[str], dict[str, list[str]], list[str]]:
    """(flags, option -> values, positional arguments), with `--option=value` split."""
    flags, options, positional = set(), {}, []
    tokens = iter(arguments)
    for token in tokens:
        name, has_value, value = token.partition("=")
        if token.startswith("-") and name in PIP_VALUE_OPTIONS:
            options.setdefault(name, []).append(value if has_value else next(tokens))
        elif token.startswith("-"):
            flags.add(token)
        else:
            positional.append(token)
    return flags, options, positional


def pip_install_problems(arguments: list[str], lock_at: dict[str, Path], project_paths: set[str]) -> list[str]:
    """Why one pip install is not pinned: it must install hashed lock files only (--require-hashes
    --no-deps -r LOCK, with --build-constraint LOCK where the lock has source distributions), or the
    project itself from its source folder with nothing fetched (--no-index --no-deps)."""
    flags, options, positional = parse_pip_install(arguments)
    requirement_files = options.get("-r", []) + options.get("--requirement", [])
    if not requirement_files:
        if {"--no-index", "--no-deps"} <= flags and positional and set(positional) <= project_paths:
            return []
        return [f"installs {positional or arguments} without a hashed lock file"]
    problems = []
    if positional:
        problems.append(f"installs {positional} beside its lock files")
    for flag in ("--require-hashes", "--no-deps"):
        if flag not in flags:
            problems.append(f"-r {' '.join(requirement_files)} without {flag}")
    for requirement_file in requirement_files:
        lock = lock_at.get(requirement_file)
        if lock is None or not lock.is_file() or lock.name != "requirements.lock" or lock.parent.parent != CONTAINERS:
            problems.append(f"-r {requirement_file} is not one of containers/*/requirements.lock")
        elif lock_sources(lock) and requirement_file not in options.get("--build-constraint", []):
            problems.append(f"{lock.relative_to(ROOT)} has source distributions ({', '.join(lock_sources(lock))}): "
                            f"their build tools must be hash-checked with --build-constraint {requirement_file}")
    return problems


def dockerfile_problems(text: str) -> list[str]:
    """Every unpinned base image and every pip install not from a hashed lock, in a Dockerfile's text."""
    problems, lock_at, project_paths, build_arguments = [], {}, set(), {}
    for keyword, arguments in instructions(text):
        if keyword == "ARG" and "=" in arguments:  # the default is what a plain build uses
            name, _, default = arguments.partition("=")
            build_arguments[name.strip()] = default.strip()
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda match: build_arguments.get(match[1], match[0]), arguments.split()[0])
            name, _, digest = image.partition("@")
            tag = name.rpartition("/")[2].partition(":")[2]
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                problems.append(f"FROM {image} is not pinned by digest")
            if not tag or tag == "latest":
                problems.append(f"FROM {image} has no version tag")
        elif keyword == "COPY":  # remember where lock files and the project's source land
            *sources, destination = shlex.split(arguments)
            for source in sources:
                target = destination if len(sources) == 1 and not destination.endswith("/") else f"{destination.rstrip('/')}/{Path(source).name}"
                lock_at[target] = ROOT / source
                if source == "pyproject.toml":
                    project_paths.add(str(Path(target).parent))
        elif keyword == "RUN":
            for install in pip_installs(arguments):
                problems += pip_install_problems(install, lock_at, project_paths)
    return problems


def in_file_requirements(path: Path) -> tuple[list[Requirement], set[str] | None]:
    """The requirements of a requirements.in, and the project's extras if it names the project (`.[x]`)."""
    requirements, extras = [], None
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("."):
            extras = set(re.findall(r"[\w-]+", line[1:]))
        else:
            requirements.append(Requirement(line))
    return requirements, extras


def project_requirements(extras: set[str]) -> list[Requirement]:
    """The project's dependencies with these extras, its self-references (scoder-harness[hf]) followed."""
    optional = PROJECT["project"]["optional-dependencies"]
    requirements = [Requirement(text) for text in PROJECT["project"]["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in map(Requirement, optional[extra]):
            if canonicalize_name(requirement.name) == PROJECT_NAME:
                pending += requirement.extras
            else:
                requirements.append(requirement)
    return [requirement for requirement in requirements if not requirement.marker or requirement.marker.evaluate()]


def role_requirements(role: str) -> list[Requirement]:
    """Everything a role's lock must satisfy: its requirements*.in and, where it installs the project,
    the project's dependencies with the role's extras and its build backend."""
    requirements, extras = in_file_requirements(CONTAINERS / role / "requirements.in")
    no_deps = CONTAINERS / role / "requirements-no-deps.in"
    if no_deps.is_file():
        requirements += in_file_requirements(no_deps)[0]
    if extras is not None:
        requirements += project_requirements(extras)
        requirements += [Requirement(text) for text in PROJECT["build-system"]["requires"]]
    return requirements


# ---- the checker itself catches what it must (made-up Dockerfiles, labelled as such) -------------

FAKE_PINNED = """FROM python:3.11.15-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba
COPY containers/sandbox/requirements.lock /tmp/requirements.lock
COPY pyproject.toml README.md /src/
RUN python -m venv /v \\
 && /v/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock \\
 && /v/bin/pip install --no-index --no-deps --no-build-isolation /src
"""


@pytest.mark.parametrize("fake, expected", [
    (FAKE_PINNED, []),
    (FAKE_PINNED.replace("3.11.15-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba", "3.11-slim"), ["not pinned by digest"]),
    (FAKE_PINNED.replace("3.11.15-slim-bookworm@", "latest@"), ["no version tag"]),
    (FAKE_PINNED.replace("python:3.11.15-slim-bookworm@", "python@"), ["no version tag"]),
    (FAKE_PINNED + "RUN pip install torch\n", ["without a hashed lock file"]),
    (FAKE_PINNED + "RUN cd /tmp && python -m pip install -U pip\n", ["without a hashed lock file"]),
    (FAKE_PINNED.replace("--require-hashes ", ""), ["without --require-hashes"]),
    (FAKE_PINNED.replace(" --no-deps -r", " -r"), ["without --no-deps"]),
    (FAKE_PINNED.replace("-r /tmp/requirements.lock", "-r /tmp/requirements.lock accelerate"), ["beside its lock files"]),
    (FAKE_PINNED.replace("--no-index --no-deps --no-build-isolation /src", "--no-deps /src"), ["without a hashed lock file"]),
    (FAKE_PINNED.replace("COPY containers/sandbox/requirements.lock", "COPY requirements.txt"), ["is not one of containers"]),
    (FAKE_PINNED.replace("containers/sandbox/", "containers/train/"), ["--build-constraint"]),
])
def test_the_dockerfile_checker_flags_every_unpinned_install(fake, expected):
    # Made-up Dockerfiles: one pinned, the others each break one rule the real ones are held to.
    problems = dockerfile_problems(fake)
    assert len(problems) == len(expected), problems
    for problem, words in zip(problems, expected):
        assert words in problem


# ---- the real Dockerfiles and install.sh --------------------------------------------------------

@pytest.mark.parametrize("role", sorted(ROLES))
def test_dockerfile_pins_its_base_image_and_installs_only_hashed_locks(role):
    dockerfile = CONTAINERS / role / "Dockerfile"
    assert dockerfile_problems(dockerfile.read_text()) == []
    steps = instructions(dockerfile.read_text())
    assert [keyword for keyword, _ in steps].count("FROM") >= 1
    # the role's own lock is installed, and the image name is the one the container runner uses
    copied = [arguments.split()[0] for keyword, arguments in steps if keyword == "COPY"]
    assert f"containers/{role}/requirements.lock" in copied
    assert f"containers/build.sh {role}" in dockerfile.read_text()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_build_sh_tags_images_with_the_name_the_runner_starts(role):
    """containers/build.sh and harness.containers.image_name compute the tag apart (bash and Python): they agree,
    and the tag changes with the Dockerfile and with every lock the Dockerfile copies."""
    tag = subprocess.run(["bash", "-c", f"source <(sed -n '/^image_tag()/,/^}}/p' containers/build.sh) && image_tag {role}"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert containers.image_name(role) == f"scoder-{role}:{tag}" and re.fullmatch(r"[0-9a-f]{12}", tag)


def test_build_sh_builds_every_role_and_only_them():
    """build.sh's roles are the folders with a Dockerfile (no list to keep), and the harness' roles are the same."""
    listed = subprocess.run(["bash", "-c", "source <(grep '^ROLES=' containers/build.sh) && echo ${ROLES[@]}"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == sorted(ROLES) and len(listed) == len(set(listed))


@pytest.mark.parametrize("name", sorted(task_environments()))
def test_a_task_environment_is_its_execution_roles_lock_on_the_same_python(name):
    """`scoder sandbox setup` installs the lock the benchmark's image installs, on the Python lock.sh resolved it for
    (its folder's lock.env) and the image's pinned base runs."""
    environment = task_environments()[name]
    roles = {benchmark.execution_role for benchmark in BENCHMARKS.values() if benchmark.task_environment == environment}
    assert len(roles) == 1 and environment.lock_file == CONTAINERS / roles.pop() / "requirements.lock"
    folder = environment.lock_file.parent
    assert lock_settings(folder.name)[0] == environment.python_version
    base = re.search(r"^ARG BASE_IMAGE=python:(\d+\.\d+)\.", (folder / "Dockerfile").read_text(), re.MULTILINE)
    assert base and base[1] == environment.python_version


def lock_settings(folder: str) -> list[str]:
    """What containers/lock.sh resolves a folder's lock for: [Python version, portable or native]."""
    return subprocess.run(["bash", "-c", f"source <(sed -n '/^settings()/,/^}}/p' containers/lock.sh) && settings {folder}"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_lock_sh_reads_each_folders_python_and_target():
    """3.11 portable unless a folder's lock.env says otherwise: the two native locks say so."""
    assert {folder: lock_settings(folder) for folder in LOCKS} == {
        "bigcodebench": ["3.10", "native"], "installer": ["3.11", "portable"], "local": ["3.11", "native"],
        "sandbox": ["3.11", "portable"], "train": ["3.11", "portable"], "vllm": ["3.11", "portable"]}


def test_image_names_follow_their_lock_files(tmp_path):
    import shutil

    shutil.copytree(CONTAINERS, tmp_path / "containers")
    before = containers.image_name("bigcodebench", tmp_path)
    with open(tmp_path / "containers" / "sandbox" / "requirements.lock", "a") as lock:  # copied by the bigcodebench image too
        lock.write("# changed\n")
    assert containers.image_name("bigcodebench", tmp_path) != before


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_image_runs_the_harness_on_its_own_python(role):
    """The runner starts `python -m harness.cli|scoder.cli` in every image: the project must be
    installed into a virtualenv whose bin folder comes first on PATH (the bigcodebench image's base
    Python is 3.10, which the harness does not run on)."""
    steps = instructions((CONTAINERS / role / "Dockerfile").read_text())
    project_pips = [command.split()[0] for keyword, arguments in steps if keyword == "RUN"
                    for command in re.split(r"&&", arguments) if "pip install" in command and "--no-index" in command]
    assert len(project_pips) == 1 and project_pips[0].endswith("/bin/pip"), project_pips
    paths = [re.search(r"\bPATH=(\S+)", arguments) for keyword, arguments in steps if keyword == "ENV"]
    assert [path[1] for path in paths if path][-1].split(":")[0] == str(Path(project_pips[0]).parent)


@pytest.mark.parametrize("role", ["sandbox", "train", "vllm", "bigcodebench"])
def test_images_run_as_a_non_root_user(role):
    users = [arguments for keyword, arguments in instructions((CONTAINERS / role / "Dockerfile").read_text()) if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_install_sh_installs_only_the_local_lock_and_the_project():
    lines = [line for line in logical_lines((ROOT / "install.sh").read_text()) if "pip install" in line]
    installs = [install for line in lines for install in pip_installs(line)]
    lock = {"containers/local/requirements.lock": CONTAINERS / "local" / "requirements.lock"}
    assert installs and all(pip_install_problems(install, lock, {"."}) == [] for install in installs)
    assert any("-r" in install for install in installs)


# ---- the lock files ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", LOCKS)
def test_every_lock_line_is_pinned_by_version_and_sha256(role):
    pinned = read_lock(CONTAINERS / role / "requirements.lock")
    assert pinned


@pytest.mark.parametrize("role", LOCKS)
def test_lock_satisfies_its_requirements_and_pyproject(role):
    pinned = read_lock(CONTAINERS / role / "requirements.lock")
    for requirement in role_requirements(role):
        key = canonicalize_name(requirement.name)
        assert key in pinned, f"{role}: {requirement} is not locked"
        name, version = pinned[key]
        assert requirement.specifier.contains(version, prereleases=True), f"{role}: {name}=={version} does not satisfy {requirement}"


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_roles_lock_the_extras_issue_7_asks_for(role):
    extras = in_file_requirements(CONTAINERS / role / "requirements.in")[1]
    assert extras == ROLE_EXTRAS[role]
    pinned = read_lock(CONTAINERS / role / "requirements.lock")
    assert ROLE_EXTRA_PACKAGES.get(role, set()) <= set(pinned)


def test_the_train_image_gets_cuda_torch_and_the_local_environment_cpu_torch():
    train, local = read_lock(CONTAINERS / "train" / "requirements.lock"), read_lock(CONTAINERS / "local" / "requirements.lock")
    pinned_torch = next(r for r in project_requirements({"train"}) if r.name == "torch").specifier
    # PyPI's Linux torch is the CUDA build: no local label, and its CUDA runtime wheels come with it
    assert train["torch"][1].local is None and train["torch"][1] in pinned_torch
    assert any(key.startswith("nvidia-cuda-runtime") for key in train)
    assert local["torch"][1].local == "cpu" and local["torch"][1] in pinned_torch
    assert not any(key.startswith("nvidia-") for key in local)


# ---- the environment these tests run in is the local lock --------------------------------------

def installed_distributions() -> dict[str, Version]:
    """What this interpreter's environment has installed (its site-packages, not the checkout's own
    *.egg-info that the working directory on sys.path would add)."""
    installed = {}
    site_packages = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    for distribution in importlib.metadata.distributions(path=site_packages):
        key = canonicalize_name(distribution.metadata["Name"])
        assert key not in installed, f"{key} is installed twice in {sys.prefix}"
        installed[key] = Version(distribution.version)
    return installed


def test_the_test_environment_is_exactly_the_local_lock():
    lock = CONTAINERS / "local" / "requirements.lock"
    python = re.search(r"CPython (\d+\.\d+)", lock.read_text())[1]
    assert platform.python_version().startswith(python + "."), f"the local lock is for Python {python}"
    pinned = {key: version for key, (_, version) in read_lock(lock).items()}
    installed = installed_distributions()
    installed.pop(PROJECT_NAME)  # the project itself, installed apart (editable)
    installed.pop("pip", None)  # the virtualenv's own installer
    rebuild = f"rebuild the environment from the lock: rm -rf {sys.prefix} && ./install.sh --dev"
    different = {key: (str(installed.get(key)), str(version)) for key, version in pinned.items() if installed.get(key) != version}
    assert not different, f"installed != locked (installed, locked): {different}; {rebuild}"
    unlocked = sorted(set(installed) - set(pinned))
    assert not unlocked, f"installed but not in {lock.relative_to(ROOT)}: {unlocked}; {rebuild}"


# ---- lock_report.py, on made-up pip reports (labelled): the behaviours lock.sh relies on ---------

def fake_report(tmp_path: Path, *items: tuple[str, str, str]) -> Path:
    # A made-up pip installation report with only the fields lock_report.py reads.
    install = []
    for name, version, url in items:
        info = {"url": url, "dir_info": {}} if url.startswith("file:") else {"url": url, "archive_info": {"hashes": {"sha256": "ab" * 32}}}
        install.append({"metadata": {"name": name, "version": version}, "download_info": info})
    path = tmp_path / f"report-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"install": install}))
    return path


def lock_report(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CONTAINERS / "lock_report.py"), *map(str, arguments)], capture_output=True, text=True)


def test_lock_report_writes_pins_names_sources_and_refuses_what_it_cannot_hash(tmp_path):
    report = fake_report(tmp_path, ("scoder-harness", "0.1.0", "file:///repo"), ("torch", "2.13.0", "https://x/torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
                         ("deepspeed", "0.19.8", "https://x/deepspeed-0.19.8.tar.gz"))
    lock = tmp_path / "requirements.lock"
    assert lock_report("write", lock, "header", report).returncode == 0
    assert read_lock(lock) == {"deepspeed": ("deepspeed", Version("0.19.8")), "torch": ("torch", Version("2.13.0"))}
    assert lock_sources(lock) == ["deepspeed"]
    assert lock_report("sdists", report).stdout == f"deepspeed @ https://x/deepspeed-0.19.8.tar.gz#sha256={'ab' * 32}\n"
    other_folder = fake_report(tmp_path, ("somelib", "1.0", "file:///elsewhere"))
    assert "refusing to lock it" in lock_report("write", lock, "header", other_folder).stderr
    conflict = fake_report(tmp_path, ("torch", "2.14.0", "https://x/torch-2.14.0-cp311-cp311-manylinux_2_28_x86_64.whl"))
    assert "resolved to both" in lock_report("write", lock, "header", report, conflict).stderr
