"""The snippet pool: the standard library's own functions, local files, datasets (local or unreachable)."""

import ast
import hashlib
import inspect
import json
import json.decoder
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scoder.snippets import SnippetConfig, SnippetError, line_count, load_snippets

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pool():
    """The default pool: the functions of this interpreter's standard library."""
    return load_snippets(SnippetConfig())


def test_stdlib_gives_thousands_of_real_functions_within_the_line_range(pool):
    assert len(pool) > 3000
    default = SnippetConfig()
    assert all(default.min_lines <= line_count(item["code"]) <= default.max_lines for item in pool)
    assert all(item["source"].startswith("stdlib:") for item in pool)
    for item in pool:  # whole, dedented definitions: each one parses on its own
        tree = ast.parse(item["code"])
        assert isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)), item["source"]


def test_known_methods_are_extracted_as_written(pool):
    by_source = {item["source"]: item for item in pool}
    found = by_source["stdlib:json/decoder.py:JSONDecoder.decode"]
    assert found["code"] == textwrap.dedent(inspect.getsource(json.decoder.JSONDecoder.decode)).rstrip()
    decorated = by_source["stdlib:fractions.py:Fraction.from_float"]["code"]
    assert decorated.startswith("@classmethod\ndef from_float(cls, f):\n")


def test_tests_gui_and_installed_packages_are_left_out(pool):
    folders = {part for item in pool for part in item["source"].split(":")[1].split("/")[:-1]}
    assert not folders & {"test", "tests", "idlelib", "tkinter", "site-packages", "encodings", "lib2to3"}
    assert not any(item["source"].startswith("stdlib:turtle.py:") for item in pool)
    assert "json" in folders and "asyncio" in folders


def test_ids_are_content_hashes_and_unique(pool):
    assert all(item["id"] == hashlib.sha256(item["code"].encode()).hexdigest()[:16] for item in pool)
    assert len({item["id"] for item in pool}) == len(pool)


def test_order_is_fixed_by_the_seed_and_limit_takes_its_head(pool):
    assert load_snippets(SnippetConfig(limit=25)) == pool[:25]  # a second extraction, the same order
    other_seed = load_snippets(SnippetConfig(seed=1))
    assert [item["id"] for item in other_seed] != [item["id"] for item in pool]
    assert sorted(item["id"] for item in other_seed) == sorted(item["id"] for item in pool)


def test_line_range_is_applied():
    short = load_snippets(SnippetConfig(min_lines=3, max_lines=4))
    assert short and all(3 <= line_count(item["code"]) <= 4 for item in short)
    with pytest.raises(ValueError):
        SnippetConfig(min_lines=10, max_lines=5)


MODULE = '''\
import os


def top_level(path):
    """Count lines."""
    total = 0
    for line in open(path):
        total += 1
    return total


def tiny():
    return 1


class Walker:
    def __init__(self, root):
        self.root = root

    @staticmethod
    def walk(root):
        found = []
        for folder, _, files in os.walk(root):
            def keep(name):
                return not name.startswith(".")
            found += [name for name in files if keep(name)]
        return found
'''


def test_a_local_folder_gives_python_functions_and_jsonl_rows(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "walker.py").write_text(MODULE)
    (tmp_path / "pkg" / "broken.py").write_text("def broken(:\n    pass\n    pass\n    pass\n    pass\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.py").write_text(MODULE.replace("top_level", "hidden_function"))
    rows = [{"seed": "for i in range(3):\n    print(i)\n    print(i * 2)\n    print(i * 3)\n    print(i * 4)"},
            {"seed": "x = 1\ny = 2"}]  # two lines: below the range
    (tmp_path / "seeds.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    pool = load_snippets(SnippetConfig(source=str(tmp_path), min_lines=3))
    by_source = {item["source"]: item["code"] for item in pool}
    assert set(by_source) == {"pkg/walker.py:top_level", "pkg/walker.py:Walker.walk", "seeds.jsonl:1"}
    assert by_source["pkg/walker.py:Walker.walk"].startswith("@staticmethod\ndef walk(root):\n")
    assert "def keep(name):" in by_source["pkg/walker.py:Walker.walk"]  # nested functions stay inside
    assert by_source["seeds.jsonl:1"] == rows[0]["seed"]

    single = load_snippets(SnippetConfig(source=str(tmp_path / "pkg" / "walker.py"), min_lines=3))
    assert {item["source"] for item in single} == {"walker.py:top_level", "walker.py:Walker.walk"}


def test_jsonl_without_the_field_names_it(tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps({"content": "def f():\n    return 1"}) + "\n")
    with pytest.raises(SnippetError, match="'seed'"):
        load_snippets(SnippetConfig(source=str(tmp_path / "rows.jsonl")))
    assert load_snippets(SnippetConfig(source=str(tmp_path / "rows.jsonl"), field="content", min_lines=1))


def test_a_missing_path_says_what_to_pass(tmp_path):
    with pytest.raises(SnippetError, match="stdlib"):
        load_snippets(SnippetConfig(source=str(tmp_path / "nothing-here")))


def _load_in_subprocess(tmp_path, source: str) -> subprocess.CompletedProcess:
    # A fresh process: the hub's offline switch is read when huggingface_hub is first imported, and the
    # datasets cache goes to tmp_path rather than the user's.
    pytest.importorskip("datasets")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    code = ("import json, sys\nfrom scoder.snippets import SnippetConfig, SnippetError, load_snippets\n"
            f"try:\n    print(json.dumps(load_snippets(SnippetConfig(source={source!r}, min_lines=1))))\n"
            "except SnippetError as error:\n    print('SnippetError:', error)\n    sys.exit(3)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_a_dataset_given_by_local_path_loads_through_datasets(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    rows = [{"seed": "def f(x):\n    return x + 1", "lang": "python"}, {"seed": "def g(y):\n    return y * 2", "lang": "python"}]
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = _load_in_subprocess(tmp_path, f"hf:{folder}")
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(item["code"] for item in loaded) == sorted(row["seed"] for row in rows)


def test_an_unreachable_hub_dataset_gives_a_clear_error(tmp_path):
    result = _load_in_subprocess(tmp_path, "hf:scoder-tests/no-such-dataset")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "scoder-tests/no-such-dataset" in result.stdout and "local path" in result.stdout
