"""Files written whole or not at all (fromzero.files): after an error, a kill or a race, never half a file."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import default_sigint

from fromzero.errors import InputError
from fromzero.files import (
    atomic_path,
    check_output_file,
    check_output_folder,
    exchange_paths,
    swapped_folder,
    write_atomically,
)


def test_write_atomically_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "vectors.txt"
    write_atomically(target, "old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    write_atomically(tmp_path / "cache.gz", "compressed", compress=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache.gz", "vectors.txt"]


def test_an_error_while_writing_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    target.write_text("previous")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "previous"
    assert [path.name for path in tmp_path.iterdir()] == ["model.json"]


WRITER = """
import sys
from fromzero.files import write_atomically
print("writing", flush=True)
while True:
    write_atomically(sys.argv[1], sys.argv[2] * 20_000_000)
"""


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT])
def test_a_kill_during_the_write_leaves_a_whole_file(tmp_path: Path, signal_number: int) -> None:
    target = tmp_path / "vectors.txt"
    target.write_text("o" * 20_000_000)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "n"], stdout=subprocess.PIPE, text=True,
                              preexec_fn=default_sigint)
    assert writer.stdout.readline() == "writing\n"
    time.sleep(0.3)  # in the middle of one of its writes
    writer.send_signal(signal_number)
    writer.wait(timeout=30)
    content = target.read_text()
    assert content in ("o" * 20_000_000, "n" * 20_000_000)


def _write_many(path: str, letter: str) -> None:
    for _ in range(5):
        write_atomically(path, letter * 2_000_000)


def test_two_writers_of_one_file_never_mix(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(str(target), letter)) for letter in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    content = target.read_text()
    assert content in ("a" * 2_000_000, "b" * 2_000_000)
    assert [path.name for path in tmp_path.iterdir()] == ["out.txt"]


def test_swapped_folder_replaces_a_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.bin").write_text("from an older save")
    with swapped_folder(target) as new:
        (new / "config.json").write_text("{}")
    assert sorted(path.name for path in target.iterdir()) == ["config.json"]
    with pytest.raises(RuntimeError), swapped_folder(target) as new:
        (new / "config.json").write_text("half")
        raise RuntimeError("killed mid-save")
    assert (target / "config.json").read_text() == "{}"
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="is a file"), swapped_folder(tmp_path / "a-file"):
        pass


def test_check_output_file_refuses_inputs_folders_and_missing_folders(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n")
    with pytest.raises(InputError, match=r"--out .* is the path given to --corpus"):
        check_output_file(tmp_path / "." / "corpus.txt", "--out", {"--corpus": corpus})
    (tmp_path / "link.txt").symlink_to(corpus)
    with pytest.raises(InputError, match="given to --corpus"):
        check_output_file(tmp_path / "link.txt", "--out", {"--corpus": corpus})
    with pytest.raises(InputError, match="is a folder"):
        check_output_file(tmp_path, "--out", {})
    with pytest.raises(InputError, match="does not exist"):
        check_output_file(tmp_path / "no" / "v.txt", "--out", {})
    assert check_output_file(tmp_path / "v.txt", "--out", {"--corpus": corpus}) == tmp_path / "v.txt"


def test_check_output_folder_refuses_files_and_inputs(tmp_path: Path) -> None:
    data = tmp_path / "train.tsv"
    data.write_text("text\tlabel\n", encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(InputError, match=r"--output .*train.tsv is the path given to --train"):
        check_output_folder(data, "--output", {"--train": data})
    with pytest.raises(InputError, match=r"--output .*model is the path given to --model"):
        check_output_folder(tmp_path / "." / "model", "--output", {"--model": model})
    with pytest.raises(InputError, match="is a file: name a folder"):
        check_output_folder(data, "--output", {})
    fresh = tmp_path / "new" / "deeper"
    assert check_output_folder(fresh, "--output", {"--model": model}) == fresh


def test_a_folder_is_swapped_in_one_step_on_linux(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "name").write_text(folder.name)
    assert exchange_paths(first, second) == sys.platform.startswith("linux")
    if sys.platform.startswith("linux"):
        assert (first / "name").read_text() == "second" and (second / "name").read_text() == "first"
