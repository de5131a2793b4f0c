"""A bank damaged the ways a disk damages it: salvage recovers every intact take and names every damaged one.

Real LJSpeech audio in a real bank; the damage is done to the files on disk (a manifest
cut short, bits flipped in the journal, a take deleted, a block of a FLAC zeroed). The
read-only commands are run through the real CLI on the damaged bank and on a bank that
is read-only for real (a read-only bind mount).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import soundfile as sf

from voicebank.bank.prompts import load_script
from voicebank.bank.salvage import salvage_bank
from voicebank.bank.store import JOURNAL, MANIFEST, Bank
from voicebank.errors import BankCorruptError, BankError

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]
SCRIPT = {p.id: p.text for p in load_script("en-core")[:8]}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight script takes (five folded into the manifest, three in the journal), a message and an import."""
    from tests.conftest import LJSPEECH

    wavs = sorted((LJSPEECH / "wavs").glob("*.wav"))[:10]
    if len(wavs) < 10:
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    root = tmp_path_factory.mktemp("salvage") / "bank"
    with Bank.create(root, speaker="Test Reader", script="en-core") as bank:
        for n, (pid, text) in enumerate(SCRIPT.items()):
            bank.add_prompt(text, prompt_id=pid)
            data, rate = sf.read(wavs[n], dtype="float32")
            take = bank.save_take(pid, data, rate, subtype="PCM_16", qc={"verdict": "pass" if n % 3 else "warn"})
            bank.set_status(take.id, "accepted" if n % 2 else "rejected")
            if n % 2:
                bank.choose(take.id)
            if n == 4:
                bank.compact()
        msg = bank.add_prompt("I love you", kind="message")
        data, rate = sf.read(wavs[8], dtype="float32")
        bank.choose(bank.save_take(msg.id, data, rate, subtype="PCM_16").id)
        imp = bank.add_prompt("", kind="imported", prompt_id="voicemail-0001")
        data, rate = sf.read(wavs[9], dtype="float32")
        bank.save_take(imp.id, data, rate)
        bank.flag_prompt("s0002", "later")
    return root


def _records(root: Path) -> dict[str, dict]:
    with Bank.open(root, writable=False) as bank:
        return {
            t.id: {"file": (root / t.file).read_bytes(), "prompt": t.prompt_id, "text": t.text, "status": t.status,
                   "verdict": t.qc_verdict, "chosen": bank.chosen.get(t.prompt_id) == t.id}
            for t in bank.takes.values()
        }


def _damaged_copy(original: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(original, broken)
    return broken


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _take_line(journal: Path, take_id: str) -> int:
    lines = journal.read_bytes().split(b"\n")
    return next(i for i, line in enumerate(lines) if f'"id":"{take_id}"'.encode() in line and b'"op":"take"' in line)


def _flip(journal: Path, line_no: int) -> None:
    lines = journal.read_bytes().split(b"\n")
    line = bytearray(lines[line_no])
    for k in (40, len(line) // 2, len(line) - 20):  # three bit flips in one line
        line[k] ^= 0x04
    lines[line_no] = bytes(line)
    journal.write_bytes(b"\n".join(lines))


def _salvage(broken: Path, tmp_path: Path) -> tuple[Path, dict]:
    before = _tree(broken)
    new = tmp_path / "salvaged"
    proc = run("bank", "salvage", broken, new, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert _tree(broken) == before  # the damaged bank is only ever read
    with Bank.open(new, writable=False) as bank:
        assert bank.verify().ok  # the new bank is whole and opens strictly
    return new, json.loads(proc.stdout)


def _assert_recovered(orig: dict[str, dict], new: Path, *, lost_records: set[str], damaged: set[str]) -> None:
    got = _records(new)
    assert set(got) == set(orig) - damaged
    with Bank.open(new, writable=False) as bank:
        unverified = {t.id for t in bank.takes.values() if t.unverified}
    assert unverified == lost_records - damaged
    for tid, rec in got.items():
        assert rec["file"] == orig[tid]["file"], tid  # bit-identical audio
        assert rec["prompt"] == orig[tid]["prompt"]
        if tid not in lost_records:
            assert rec == orig[tid], tid  # text, status, verdict, choice all survive with the record
        elif orig[tid]["prompt"] in SCRIPT:
            assert rec["text"] == orig[tid]["text"]  # a script prompt's words come back from the script


def test_truncated_manifest(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    manifest = broken / MANIFEST
    data = manifest.read_bytes()
    cut = data.index(b'"s0004.t01"')  # the records from the fourth take on are cut off
    manifest.write_bytes(data[:cut])
    orig = _records(original)
    new, rep = _salvage(broken, tmp_path)
    assert rep["damaged"] == [] and rep["records_damage"] and "manifest.json" in rep["records_damage"][0]
    _assert_recovered(orig, new, lost_records={"s0004.t01", "s0005.t01"}, damaged=set())


def test_bit_flips_in_the_journal(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    _flip(broken / JOURNAL, _take_line(broken / JOURNAL, "s0007.t01"))
    with pytest.raises(BankCorruptError, match="salvage"):
        Bank.open(broken)  # nothing is ever written on top of damage
    new, rep = _salvage(broken, tmp_path)
    assert rep["damaged"] == [] and any("journal.jsonl line" in d for d in rep["records_damage"])
    _assert_recovered(_records(original), new, lost_records={"s0007.t01"}, damaged=set())


def test_missing_take_and_zeroed_flac_block_are_named(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    gone = broken / "takes" / "s0002" / "s0002.t01.flac"
    gone.unlink()
    zeroed = broken / "takes" / "s0006" / "s0006.t01.flac"
    data = bytearray(zeroed.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    zeroed.write_bytes(bytes(data))
    new, rep = _salvage(broken, tmp_path)
    named = {d["take_id"]: d for d in rep["damaged"]}
    assert set(named) == {"s0002.t01", "s0006.t01"}
    assert named["s0002.t01"]["path"] == str(gone.resolve()) and "missing" in named["s0002.t01"]["reason"]
    assert named["s0006.t01"]["path"] == str(zeroed.resolve()) and "checksum" in named["s0006.t01"]["reason"]
    _assert_recovered(_records(original), new, lost_records=set(), damaged={"s0002.t01", "s0006.t01"})


def test_everything_at_once_and_a_zeroed_take_without_its_record(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    manifest = broken / MANIFEST
    manifest.write_bytes(manifest.read_bytes()[:400])  # little more than the header survives
    _flip(broken / JOURNAL, _take_line(broken / JOURNAL, "s0008.t01"))
    (broken / "takes" / "s0007" / "s0007.t01.flac").unlink()
    zeroed = broken / "takes" / "s0003" / "s0003.t01.flac"  # its record was in the manifest: lost
    data = bytearray(zeroed.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    zeroed.write_bytes(bytes(data))
    spool = broken / ".inprogress"
    spool.mkdir()
    (spool / "s0009-1.json").write_text('{"prompt_id": "s0009"}')  # a killed session's unsaved recording
    (spool / "s0009-1.wav").write_bytes(b"RIFF" + bytes(range(256)) * 40)
    new, rep = _salvage(broken, tmp_path)
    assert sorted(rep["unfinished"]) == ["s0009-1.json", "s0009-1.wav"]
    assert _tree(new / ".inprogress") == _tree(spool)  # byte for byte, for the next recording session
    named = {d["take_id"]: d["reason"] for d in rep["damaged"]}
    assert set(named) == {"s0007.t01", "s0003.t01"} and "record is lost" in named["s0003.t01"]
    lost = {f"s000{n}.t01" for n in (1, 2, 3, 4, 5, 8)}
    _assert_recovered(_records(original), new, lost_records=lost, damaged={"s0007.t01", "s0003.t01"})


def test_a_flipped_checksum_keeps_the_whole_audio_unverified(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    manifest = broken / MANIFEST
    meta = json.loads(manifest.read_text())
    take = next(t for t in meta["takes"] if t["id"] == "s0002.t01")
    sha = take["sha256"]
    take["sha256"] = sha[:10] + ("0" if sha[10] != "0" else "1") + sha[11:]  # one digit of the record flipped
    manifest.write_text(json.dumps(meta, indent=1))
    new, rep = _salvage(broken, tmp_path)
    assert rep["damaged"] == [] and [d["take_id"] for d in rep["doubtful"]] == ["s0002.t01"]
    _assert_recovered(_records(original), new, lost_records={"s0002.t01"}, damaged=set())
    with Bank.open(new, writable=False) as bank:  # its record survived: words, status, choice kept
        assert bank.takes["s0002.t01"].status == "accepted" and bank.chosen["s0002"] == "s0002.t01"


def test_read_only_commands_work_on_a_damaged_bank(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    _flip(broken / JOURNAL, _take_line(broken / JOURNAL, "s0007.t01"))
    status = run("bank", "status", broken)
    assert status.returncode == 0 and "Damaged" in status.stdout and "bank salvage" in status.stderr
    verify = run("bank", "verify", broken)
    assert verify.returncode == 1 and "records damaged" in verify.stdout and "s0007.t01" in verify.stdout
    takes = run("bank", "takes", broken)
    assert takes.returncode == 0 and "s0008.t01" in takes.stdout and "bank salvage" in takes.stderr
    export = run("bank", "export", broken, tmp_path / "b.tar")
    assert export.returncode == 0 and "packed as it is" in export.stderr
    back = run("bank", "import", tmp_path / "b.tar", tmp_path / "back")
    assert back.returncode == 0 and "already damaged" in back.stderr
    assert _tree(tmp_path / "back") == {k: v for k, v in _tree(broken).items() if k != ".lock"}
    with pytest.raises(BankError, match="salvage"):
        Bank.open(broken, writable=False)  # the library refuses without tolerate_damage, with advice
    assert "s0007.t01" not in run("bank", "takes", broken).stdout


@pytest.fixture
def read_only_copy(original: Path, tmp_path: Path) -> Iterator[Path]:
    """The bank behind a read-only bind mount: not even root can write to it."""
    src = tmp_path / "rw"
    shutil.copytree(original, src)
    (src / ".lock").unlink(missing_ok=True)
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "--bind", str(src), str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount a read-only copy ({done.stderr.strip()}); needs root or CAP_SYS_ADMIN")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot make the bind mount read-only ({ro.stderr.strip()})")
        probe = mount / "probe"
        with pytest.raises(OSError):
            probe.write_bytes(b"x")
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_status_verify_export_on_a_read_only_bank(read_only_copy: Path, tmp_path: Path) -> None:
    assert run("bank", "status", read_only_copy).returncode == 0
    assert "All takes are intact" in run("bank", "verify", read_only_copy).stdout
    export = run("bank", "export", read_only_copy, tmp_path / "ro.tar")
    assert export.returncode == 0 and "read-only" in export.stderr, export.stderr
    assert run("bank", "import", tmp_path / "ro.tar", tmp_path / "copy").returncode == 0
    assert _tree(tmp_path / "copy") == _tree(read_only_copy)
    change = run("bank", "choose", read_only_copy, "s0001.t01")
    assert change.returncode == 2 and "read-only" in change.stderr and "salvage" in change.stderr
    new = salvage_bank(read_only_copy, tmp_path / "moved")
    assert not new.damaged and len(new.kept) == 10


def test_prepare_reads_the_intact_takes_of_a_damaged_bank(original: Path, tmp_path: Path) -> None:
    broken = _damaged_copy(original, tmp_path)
    _flip(broken / JOURNAL, _take_line(broken / JOURNAL, "s0008.t01"))  # a chosen take loses its record
    proc = run("train", "prepare", broken, tmp_path / "data", "--json", "--without-consent", "test recordings")
    assert proc.returncode == 0, proc.stderr
    assert "damaged" in proc.stderr and "bank salvage" in proc.stderr
    assert json.loads(proc.stdout)["utterances"] == 4  # s0002, s0004, s0006 and the message m0001


def test_a_newer_bank_is_never_read_as_damaged(tmp_path: Path) -> None:
    with Bank.create(tmp_path / "b"):
        pass
    manifest = tmp_path / "b" / MANIFEST
    meta = json.loads(manifest.read_text())
    meta["schema_version"] = 99
    manifest.write_text(json.dumps(meta))
    with pytest.raises(BankCorruptError, match="Update voicebank"):
        Bank.open(tmp_path / "b", writable=False, tolerate_damage=True)
