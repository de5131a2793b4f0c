"""The bank's storage rules: several takes per prompt, a chosen one, journal recovery, refusals."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.tmpfs import small_tmpfs
from voicebank.bank import journal
from voicebank.bank.archive import export_bank, import_bank
from voicebank.bank.store import JOURNAL, MANIFEST, Bank, storage_subtype
from voicebank.errors import AudioFormatError, BankCorruptError, BankError, BankLockedError, DiskFullError, IntegrityError


def _tone(seconds: float = 0.5, rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_takes_are_lossless_and_several_per_prompt(tmp_path: Path) -> None:
    with Bank.create(tmp_path / "b", speaker="Sam") as bank:
        p = bank.add_prompt("The kettle is on.")
        samples = (np.round(_tone() * 32767) / 32767).astype(np.float32)
        t1 = bank.save_take(p.id, samples, 16000, subtype="PCM_16")
        t2 = bank.save_take(p.id, samples * 0.5, 16000)
        bank.choose(t2.id)
        assert [t.id for t in bank.takes_for(p.id)] == [t1.id, t2.id]
        back, rate = sf.read(bank.take_path(t1), dtype="float32")
        assert rate == 16000 and np.array_equal(np.round(back * 32768), np.round(samples * 32768))
        assert t2.subtype == "PCM_24"
    with Bank.open(tmp_path / "b", writable=False) as again:
        assert again.chosen == {p.id: t2.id}
        assert again.meta["speaker"] == "Sam"
        assert again.status().takes == 2 and again.status().chosen == 1


def test_compaction_keeps_everything(tmp_path: Path) -> None:
    with Bank.create(tmp_path / "b") as bank:
        p = bank.add_prompt("One two three.")
        ids = [bank.save_take(p.id, _tone(0.2), 16000).id for _ in range(3)]
        bank.choose(ids[1])
        bank.flag_prompt(p.id, "later")
        bank.compact()
        assert (tmp_path / "b" / JOURNAL).stat().st_size == 0
        bank.set_status(ids[2], "rejected")
    with Bank.open(tmp_path / "b") as bank:
        assert set(bank.takes) == set(ids) and bank.chosen[p.id] == ids[1]
        assert bank.flags == {p.id: "later"} and bank.takes[ids[2]].status == "rejected"


def test_torn_journal_tail_is_cut_and_damaged_middle_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "b"
    with Bank.create(root) as bank:
        p = bank.add_prompt("Hello.")
        bank.save_take(p.id, _tone(), 16000)
    jpath = root / JOURNAL
    good = jpath.read_bytes()
    jpath.write_bytes(good + journal.encode({"seq": 99, "op": "flag", "prompt_id": p.id, "flag": "later"})[:20])
    with Bank.open(root) as bank:  # the torn line is an interrupted append: dropped
        assert bank.flags == {}
    assert jpath.read_bytes() == good
    assert not list(root.glob("lost+found/journal-tail-*"))  # half a line holds nothing to restore
    lines = good.splitlines(keepends=True)
    damaged = lines[0].replace(b"Hello", b"Jello")
    jpath.write_bytes(damaged + b"".join(lines[1:]))
    with pytest.raises(BankCorruptError, match="damaged"):
        Bank.open(root)


def test_a_damaged_last_journal_line_is_kept_in_lost_and_found(tmp_path: Path) -> None:
    """A last line that rotted on the disk reads like a torn append; its bytes are kept, not destroyed."""
    root = tmp_path / "b"
    with Bank.create(root) as bank:
        p = bank.add_prompt("Hello.")
        take = bank.save_take(p.id, _tone(), 16000)
        bank.choose(take.id)
    jpath = root / JOURNAL
    lines = jpath.read_bytes().splitlines(keepends=True)
    rotted = lines[-1].replace(b"choose", b"chooze")
    jpath.write_bytes(b"".join(lines[:-1]) + rotted)
    with Bank.open(root) as bank:
        assert p.id not in bank.chosen and take.id in bank.takes  # the take itself is never lost
    kept = list((root / "lost+found").glob("journal-tail-*"))
    assert [k.read_bytes() for k in kept] == [rotted]


def test_journal_append_on_a_full_disk_leaves_no_torn_line(tmp_path: Path) -> None:
    """A real full file system (64 KiB tmpfs): the failed append is cut back, later appends read clean."""
    with small_tmpfs(tmp_path / "disk", "64k") as disk:
        jpath = disk / JOURNAL
        journal.append(jpath, {"seq": 1, "op": "meta", "key": "speaker", "value": "Ann"})
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with pytest.raises(OSError):  # take every free block
            while True:
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        entry = {"seq": 2, "op": "meta", "key": "notes", "value": "x" * 6000}  # longer than the room left
        with pytest.raises(DiskFullError, match="(?i)everything recorded before is safe") as info:
            journal.append(jpath, entry)
        assert info.value.errno == errno.ENOSPC
        after = journal.read(jpath)
        assert [e["seq"] for e in after.entries] == [1] and not after.torn_tail
        (disk / "filler").unlink()
        journal.append(jpath, entry)
        assert [e["seq"] for e in journal.read(jpath).entries] == [1, 2]


def test_corrupt_manifest_and_locks(tmp_path: Path) -> None:
    root = tmp_path / "b"
    bank = Bank.create(root)
    with pytest.raises(BankLockedError):
        Bank.open(root)
    bank.close()
    snapshot = json.loads((root / MANIFEST).read_text())
    (root / MANIFEST).write_text('{"format": "voicebank-bank", "schema_ver')
    with pytest.raises(BankCorruptError, match="untouched"):
        Bank.open(root)
    snapshot["takes"] = [{"id": "s0001.t01", "frames": 10}]  # valid JSON, a take record missing its fields
    (root / MANIFEST).write_text(json.dumps(snapshot))
    with pytest.raises(BankCorruptError, match="edited by hand.*untouched"):
        Bank.open(root, writable=False)
    with pytest.raises(BankError, match="no bank"):
        Bank.open(tmp_path / "nope")


def test_refusals(tmp_path: Path) -> None:
    with Bank.create(tmp_path / "b") as bank:
        p = bank.add_prompt("Hi.")
        with pytest.raises(AudioFormatError):
            bank.save_take(p.id, np.zeros(0, np.float32), 16000)
        with pytest.raises(AudioFormatError):
            bank.save_take(p.id, np.full(100, np.nan, np.float32), 16000)
        assert not bank.takes
    with pytest.raises(AudioFormatError, match="8-bit"):
        storage_subtype("PCM_U8")
    with pytest.raises(BankError):
        Bank.create(tmp_path / "b")


def test_interrupted_rename_is_adopted_and_stray_files_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "b"
    with Bank.create(root) as bank:
        p = bank.add_prompt("Adopt me.")
    # a complete take file whose journal line never came (killed after the rename)
    folder = root / "takes" / p.id
    folder.mkdir(parents=True)
    sf.write(folder / f"{p.id}.t01.flac", _tone(), 16000, format="FLAC", subtype="PCM_16")
    sf.write(folder / "holiday.flac", _tone(), 16000, format="FLAC")  # not a take name
    (folder / ".x.flac.partial").write_bytes(b"half")
    with Bank.open(root) as bank:
        take = bank.takes[f"{p.id}.t01"]
        assert take.recovered and take.status == "pending"
        assert bank.verify().ok
    assert not (folder / ".x.flac.partial").exists()
    assert [f.name.endswith("holiday.flac") for f in (root / "lost+found").iterdir()] == [True]


def test_export_import_is_bit_for_bit(tmp_path: Path) -> None:
    root = tmp_path / "b"
    with Bank.create(root) as bank:
        for n in range(3):
            p = bank.add_prompt(f"Sentence {n}.")
            bank.save_take(p.id, _tone(0.3 + n / 10), 22050, choose=True)
    archive = tmp_path / "b.vbank.tar"
    index = export_bank(root, archive)
    assert index["takes"] == 3
    with import_bank(archive, tmp_path / "copy") as copy:
        assert copy.verify().ok
    for f in index["files"]:
        assert (root / f["path"]).read_bytes() == (tmp_path / "copy" / f["path"]).read_bytes()
    # a damaged archive never produces a bank
    data = bytearray(archive.read_bytes())
    pos = data.find(b"fLaC", 2048)
    data[pos + 600] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        import_bank(bad, tmp_path / "copy2")
    assert not (tmp_path / "copy2").exists()
    assert not [p for p in tmp_path.iterdir() if "importing" in p.name]


def test_consent_travels_with_export_and_salvage(tmp_path: Path) -> None:
    """The speaker's consent record is part of the bank: export/import and salvage carry it."""
    from voicebank.bank.salvage import salvage_bank
    from voicebank.provenance.consent import consent_status, save_written

    root = tmp_path / "b"
    with Bank.create(root) as bank:
        p = bank.add_prompt("Sentence one.")
        bank.save_take(p.id, _tone(0.4), 22050, choose=True)
    save_written(root, reason="can no longer speak", attested_by="Dr. Ada Lee")
    (root / "consent" / ".speaker-embeddings.json").write_text("{}")  # a cache: stays behind
    export_bank(root, tmp_path / "b.tar")
    with import_bank(tmp_path / "b.tar", tmp_path / "copy"):
        pass
    salvage_bank(root, tmp_path / "salvaged")
    for copy in (tmp_path / "copy", tmp_path / "salvaged"):
        status = consent_status(copy)
        assert status.ok and status.how == "written" and "Dr. Ada Lee" in status.detail
        assert not (copy / "consent" / ".speaker-embeddings.json").exists()
