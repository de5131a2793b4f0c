"""voicebank.durable under real faults: writers SIGKILLed at every fault point, a real full disk, damaged JSON.

Each kill is a child process that kills itself with SIGKILL where ``VOICEBANK_FAULT``
says (the module's own hook), or that the test kills from outside mid-write. After
each kill the target must hold the complete old or the complete new content, and
whatever the interrupted write left behind must be recognisable and cleanable.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers.tmpfs import small_tmpfs
from voicebank.durable import (
    PHASES,
    atomic_output,
    atomic_write,
    atomic_write_json,
    is_partial,
    read_json,
    read_json_dict,
    remove_partials,
)
from voicebank.errors import CorruptFileError, DiskFullError, StorageError, UsageError, VoicebankError

REPO = Path(__file__).resolve().parents[1]
OLD = b"old content\n" * 4096  # 48 KiB: big enough that half of it is a different file
NEW = b"NEW CONTENT\n" * 8192

# Writes NEW over argv[1] argv[2] times (fault points on), printing DONE after each write returns.
WRITER = """
import sys
from voicebank.durable import atomic_write
new = b"NEW CONTENT\\n" * 8192
for i in range(int(sys.argv[2])):
    atomic_write(sys.argv[1], new[: len(new) - i], faults=True)
    print("DONE", i + 1, flush=True)
"""

# Rewrites a JSON file with two alternating ~0.5 MiB versions until it is killed.
JSON_WRITER = """
import sys
from voicebank.durable import atomic_write_json
versions = [{"version": v, "rows": [v * 1000 + i for i in range(60000)]} for v in (1, 2)]
print("READY", flush=True)
i = 0
while True:
    atomic_write_json(sys.argv[1], versions[i % 2], indent=None)
    i += 1
"""


def _child(code: str, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "VOICEBANK_FAULT"}
    if fault:
        env["VOICEBANK_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


def _leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_partial(p.name))


@pytest.mark.parametrize("phase", [p for p in PHASES if p != "journal_append"])  # the journal: test_bank_crash
def test_sigkill_at_each_fault_point_leaves_old_or_new_never_a_mix(tmp_path: Path, phase: str) -> None:
    target = tmp_path / "take.flac"
    target.write_bytes(OLD)
    proc = _child(WRITER, str(target), "1", fault=phase)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "DONE" not in out  # killed inside the write, never reported done

    if phase == "after_rename":
        assert target.read_bytes() == NEW  # published whole; only the folder's fsync was cut off
        assert _leftovers(tmp_path) == []
    else:
        assert target.read_bytes() == OLD  # the rename never happened: the old file, complete
        (partial,) = _leftovers(tmp_path)  # the interrupted write is recognisable by its name...
        written = NEW[: len(NEW) // 2] if phase == "audio_write" else NEW  # killed half-way, or fsynced whole
        assert partial.name.startswith(".take.flac") and partial.read_bytes() == written
        assert remove_partials(tmp_path.iterdir()) == [partial]  # ...and cleaned by remove_partials
        assert _leftovers(tmp_path) == [] and target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.flac"]


def test_fault_on_the_nth_pass_kills_exactly_there(tmp_path: Path) -> None:
    """``phase:N``: the first N-1 writes complete, the N-th is killed after its rename."""
    target = tmp_path / "notes.json"
    proc = _child(WRITER, str(target), "5", fault="after_rename:3")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert out.split() == ["DONE", "1", "DONE", "2"]
    assert target.read_bytes() == NEW[: len(NEW) - 2]  # the third write, complete


def test_json_writer_killed_mid_write_leaves_one_whole_version(tmp_path: Path) -> None:
    """Kills land while the temporary file is being written (watched for) and at random moments."""
    target = tmp_path / "phrases.json"
    expected = {v: {"version": v, "rows": [v * 1000 + i for i in range(60000)]} for v in (1, 2)}
    expected[0] = {"version": 0, "rows": []}
    atomic_write_json(target, expected[0])
    mid_write = 0
    for i, delay in enumerate((None, 0.05, None, 0.21, None, 0.45, None, 0.6)):
        proc = _child(JSON_WRITER, str(target))
        assert proc.stdout is not None and proc.stdout.readline().startswith("READY")
        if delay is None:  # kill as soon as a write's temporary file appears
            deadline = time.monotonic() + 10
            while not _leftovers(tmp_path) and time.monotonic() < deadline:
                pass
        else:
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        data = read_json(target, what="phrase list")  # never damaged: no CorruptFileError here
        assert data == expected[data["version"]]
        mid_write += bool(remove_partials(tmp_path.iterdir()))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["phrases.json"]
    assert mid_write >= 1  # at least one kill did cut a write in half (usually all four watched ones)


def test_atomic_output_on_an_exception_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "eval.wav"
    target.write_bytes(OLD)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with atomic_output(target) as tmp:
            assert tmp.suffix == ".wav" and is_partial(tmp.name)  # the extension stays for format sniffing
            tmp.write_bytes(NEW[:1000])
            raise Boom()
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.wav"]

    with atomic_output(target) as tmp:
        tmp.write_bytes(NEW)
    assert target.read_bytes() == NEW and sorted(p.name for p in tmp_path.iterdir()) == ["eval.wav"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB file system (tmpfs; mounting needs root), unmounted afterwards."""
    with small_tmpfs(tmp_path / "disk", "64k") as mount:
        yield mount


def test_full_disk_is_a_disk_full_error_and_the_old_file_survives(tiny_disk: Path) -> None:
    target = tiny_disk / "lexicon.json"
    atomic_write_json(target, {"entries": ["small"]})
    old = target.read_bytes()
    too_big = os.urandom(200 * 1024)  # 200 KiB into 64 KiB

    for write in (
        lambda: atomic_write(target, too_big),
        lambda: atomic_write_json(target, {"entries": [too_big.hex()]}),
    ):
        with pytest.raises(DiskFullError) as info:
            write()
        err = info.value
        assert isinstance(err, OSError) and isinstance(err, StorageError) and isinstance(err, VoicebankError)
        assert err.errno == errno.ENOSPC
        assert "disk is full" in str(err) and str(target) in str(err)
        assert target.read_bytes() == old
        assert sorted(p.name for p in tiny_disk.iterdir()) == ["lexicon.json"]  # no temp file left behind

    with pytest.raises(DiskFullError):  # a library writing to a path (soundfile, torch.save, tarfile)
        with atomic_output(target) as tmp, open(tmp, "wb") as fh:
            fh.write(too_big)
    assert target.read_bytes() == old and sorted(p.name for p in tiny_disk.iterdir()) == ["lexicon.json"]

    try:  # an old-style handler still catches it
        atomic_write(target, too_big)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    atomic_write_json(target, {"entries": ["fits again"]})  # nothing was leaked: the small file still fits
    assert read_json(target) == {"entries": ["fits again"]}


@pytest.mark.parametrize("content", [b'{"entries": [1, 2', b"", b"\xff\xfe not text", b"null garbage"])
def test_damaged_json_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError, match=f"The voice card {path} is") as info:
        read_json(path, {}, what="voice card")  # a default covers a missing file, never a damaged one
    assert isinstance(info.value, VoicebankError)


def test_missing_json_gives_the_default_or_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    assert read_json(path, None) is None and read_json_dict(path) == {}
    with pytest.raises(UsageError, match="does not exist"):
        read_json(path, what="recipe")
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(CorruptFileError, match="should hold a JSON object, not list"):
        read_json_dict(path, what="voice card")
