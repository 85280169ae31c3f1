"""Benchmark data: pinned checksums, resolution order, download with atomic write, clear errors."""

import gzip
import http.server
import threading
from dataclasses import replace

import pytest

from harness.benchmarks.registry import get_benchmark, parse_options
from harness.benchmarks.data import DataError, dataset_availability, read_dataset
from harness.benchmarks.evalplus import HUMANEVAL_PLUS, HUMANEVAL_PLUS_MINI, MBPP_PLUS


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SCODER_DATA_DIR", raising=False)
    return tmp_path / "cache"


@pytest.mark.parametrize("benchmark, tasks", [(HUMANEVAL_PLUS, 164), (HUMANEVAL_PLUS_MINI, 164), (MBPP_PLUS, 378)])
def test_pinned_files_load_from_the_data_dir(benchmark, tasks, data_dir, empty_cache):
    dataset = benchmark.load(data_dir)
    assert len(dataset.problems) == tasks and dataset.hash == benchmark.data.md5


def test_environment_variable_is_used(data_dir, empty_cache, monkeypatch):
    monkeypatch.setenv("SCODER_DATA_DIR", str(data_dir))
    assert len(HUMANEVAL_PLUS.load().problems) == 164


def test_base_and_plus_inputs_come_from_the_same_file(humaneval, mbpp):
    counts = {
        name: [sum(len(p.inputs[kind]) for p in dataset.problems.values()) for kind in ("base", "plus")]
        for name, dataset in (("humaneval", humaneval), ("mbpp", mbpp))
    }
    assert counts == {"humaneval": [1570, 122683], "mbpp": [1174, 39841]}
    # MBPP+ inputs are rebuilt into the tuples evalplus calls the function with (data/mbpp.py)
    assert all(isinstance(argument, tuple) for argument in mbpp.problems["Mbpp/2"].inputs["base"][0])


def test_corrupt_file_is_refused_with_its_checksum(tmp_path, data_dir, empty_cache):
    content = gzip.decompress((data_dir / HUMANEVAL_PLUS.data.filename).read_bytes())
    (tmp_path / HUMANEVAL_PLUS.data.filename).write_bytes(gzip.compress(content.replace(b"has_close_elements", b"has_close_element_")))
    with pytest.raises(DataError, match="md5 .* pinned to fe585eb4"):
        HUMANEVAL_PLUS.load(tmp_path)


def test_offline_without_data_names_file_variable_and_url(tmp_path, empty_cache, monkeypatch):
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    with pytest.raises(DataError) as error:
        MBPP_PLUS.load(tmp_path)
    message = str(error.value)
    assert "MbppPlus-v0.2.0.jsonl.gz" in message and "SCODER_DATA_DIR" in message and MBPP_PLUS.data.url in message


def test_unreachable_download_is_a_clear_error(tmp_path, empty_cache):
    spec = replace(HUMANEVAL_PLUS.data, url="http://127.0.0.1:9/HumanEvalPlus.jsonl.gz")
    with pytest.raises(DataError, match="could not be downloaded"):
        read_dataset(spec, tmp_path)


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_is_checked_then_cached_atomically(file_server, data_dir, empty_cache, tmp_path):
    served, url = file_server
    (served / "HumanEvalPlus.jsonl.gz").write_bytes((data_dir / HUMANEVAL_PLUS.data.filename).read_bytes())
    spec = replace(HUMANEVAL_PLUS.data, url=f"{url}/HumanEvalPlus.jsonl.gz")
    first = read_dataset(spec, tmp_path / "nothing-here")
    cached = empty_cache / "datasets" / spec.filename
    assert cached.is_file() and not list(cached.parent.glob(".*"))  # no temporary left behind
    (served / "HumanEvalPlus.jsonl.gz").unlink()  # the second read is served by the cache
    assert read_dataset(spec, tmp_path / "nothing-here") == first


def test_download_with_wrong_checksum_is_not_cached(file_server, empty_cache, tmp_path):
    served, url = file_server
    (served / "bad.jsonl.gz").write_bytes(gzip.compress(b'{"task_id": "x"}\n'))
    spec = replace(HUMANEVAL_PLUS.data, url=f"{url}/bad.jsonl.gz")
    with pytest.raises(DataError, match="md5"):
        read_dataset(spec, tmp_path)
    assert not (empty_cache / "datasets" / spec.filename).exists()


def test_benchmark_names_and_aliases():
    assert get_benchmark("humaneval") is HUMANEVAL_PLUS and get_benchmark("MBPP+") is MBPP_PLUS
    with pytest.raises(KeyError, match="unknown benchmark"):
        get_benchmark("humaneval-x")


def test_availability_finds_the_pinned_files_without_reading_them(data_dir, empty_cache, monkeypatch):
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    found = get_benchmark("bigcodebench-hard").data_availability(parse_options(["--data-dir", str(data_dir)]))
    assert found.local == (str(data_dir / "BigCodeBench-v0.1.4.jsonl.gz"),) and not found.downloads  # the version asked for only


def test_availability_says_what_will_be_downloaded_and_refuses_what_cannot_be(file_server, tmp_path, empty_cache, monkeypatch):
    served, url = file_server
    (served / "HumanEvalPlus.jsonl.gz").write_bytes(b"not read")
    spec = replace(HUMANEVAL_PLUS.data, url=f"{url}/HumanEvalPlus.jsonl.gz")
    assert dataset_availability([spec], tmp_path).downloads == (spec.url,)
    assert "to be downloaded from " + spec.url in str(dataset_availability([spec], tmp_path))
    assert not (empty_cache / "datasets").exists()  # asked with a HEAD request, nothing fetched
    with pytest.raises(DataError, match="cannot be downloaded: http://127.0.0.1:.* answers 404"):
        dataset_availability([replace(spec, url=f"{url}/gone.jsonl.gz")], tmp_path)
    monkeypatch.setenv("SCODER_OFFLINE", "1")
    with pytest.raises(DataError) as error:
        dataset_availability([spec], tmp_path)
    assert "downloads are off (SCODER_OFFLINE is set)" in str(error.value) and "--data-dir" in str(error.value)
