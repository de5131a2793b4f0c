"""SIGKILL a process while it saves takes, hundreds of times, and check the bank after each kill.

Kills happen at random moments and at each named phase of a save (through the bank's
``VOICEBANK_FAULT`` hook). After every kill the bank must open without manual repair,
every take the bank reported as saved must be present with its checksum, and no
half-written take may be visible.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from voicebank.durable import PHASES
from voicebank.bank.store import Bank

WORKER = [sys.executable, "-m", "tests.helpers.save_worker"]
REPO = Path(__file__).resolve().parents[1]
KILLS_PER_PHASE = 40
RANDOM_KILLS = 60
BANK_EVERY = 20


def _recovered(bank_path: Path) -> int:
    with Bank.open(bank_path, writable=False) as bank:
        return sum(1 for t in bank.takes.values() if t.recovered)


def _run_worker(bank: Path, seed: int, *, fault: str | None, kill_after: float | None) -> tuple[list[tuple[str, str]], int]:
    env = dict(os.environ)
    env.pop("VOICEBANK_FAULT", None)
    if fault:
        env["VOICEBANK_FAULT"] = fault
    proc = subprocess.Popen(
        WORKER + [str(bank), str(seed), "6" if fault else "100000"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    saved: list[tuple[str, str]] = []
    assert proc.stdout is not None
    if kill_after is not None:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    for line in proc.stdout:
        if line.startswith("SAVED"):
            _, tid, sha = line.split()
            saved.append((tid, sha))
    rc = proc.wait(timeout=60)
    return saved, rc


def _check(bank_path: Path, reported: dict[str, str]) -> None:
    with Bank.open(bank_path) as bank:  # opens without manual repair (recovery runs here)
        for tid, sha in reported.items():
            assert tid in bank.takes, f"reported take {tid} is gone"
            assert bank.takes[tid].sha256 == sha
        report = bank.verify()
        assert report.ok, report.to_dict()
        assert not report.leftovers, report.to_dict()
        for take in bank.takes.values():
            data, rate = sf.read(bank.take_path(take))  # fully decodable: nothing half-written is visible
            assert len(data) == take.frames and rate == take.sample_rate


@pytest.mark.slow
def test_sigkill_during_saves_never_loses_or_exposes_a_take(tmp_path: Path) -> None:
    rng = random.Random(1234)
    reported: dict[str, str] = {}
    bank_path = tmp_path / "unused"
    kills: dict[str, int] = {p: 0 for p in PHASES}
    kills["random"] = 0
    plan = [p for p in PHASES for _ in range(KILLS_PER_PHASE)] + ["random"] * RANDOM_KILLS
    rng.shuffle(plan)
    recovered = 0
    for seed, what in enumerate(plan):
        if seed % BANK_EVERY == 0:  # a fresh bank now and then keeps re-verification cheap
            if seed:
                recovered += _recovered(bank_path)
            bank_path = tmp_path / f"bank{seed // BANK_EVERY}"
            Bank.create(bank_path).close()
            reported = {}
        if what == "random":
            saved, rc = _run_worker(bank_path, seed, fault=None, kill_after=rng.uniform(0.0, 0.25))
        else:
            saved, rc = _run_worker(bank_path, seed, fault=f"{what}:{rng.randint(1, 4)}", kill_after=None)
        if rc == -signal.SIGKILL:
            kills[what] += 1
        reported.update(saved)
        _check(bank_path, reported)
    total = sum(kills.values())
    (tmp_path / "kills.json").write_text(json.dumps(kills))
    print(f"\nSIGKILL counts per phase: {json.dumps(kills)} (total {total}); banks: {len(plan) // BANK_EVERY}")
    assert total >= 200
    assert all(kills[p] == KILLS_PER_PHASE for p in PHASES), kills
    assert kills["random"] == RANDOM_KILLS, kills
    recovered += _recovered(bank_path)
    # kills after the rename but before the journal line leave complete files that get adopted
    assert recovered >= 1


_RECOVER_SPOOLS = """
import sys
from voicebank.bank.store import Bank
from voicebank.record.session import RecordingSession, SessionPrompt
with Bank.open(sys.argv[1]) as bank:
    session = RecordingSession(bank, [SessionPrompt("p1", sys.argv[2])])
    print([saved.take.id for saved in session.recover_spools()])
"""


def test_a_take_adopted_after_a_kill_keeps_its_source_and_capture_and_is_not_saved_twice(tmp_path: Path) -> None:
    """Killed after the take's file is in place but before its journal line: the file itself says where it came
    from, so the adopted take keeps its capture id (a spooled capture is not saved a second time) and its capture."""
    from voicebank.record import spool

    clip = REPO.parent / "shared" / "data" / "ljspeech-sample" / "wavs" / "LJ001-0001.wav"
    if not clip.exists():
        pytest.skip("../shared/data/ljspeech-sample is absent here")
    text = "Printing, in the only sense with which we are at present concerned."
    root = tmp_path / "bank"
    Bank.create(root).close()
    samples, rate = sf.read(str(clip), dtype="float32")
    writer = spool.SpoolWriter(spool.spool_dir(root), spool.SpoolInfo("cap-1", "p1", text, "script", rate, 1, ""))
    writer.write(samples[:, None])
    writer.close()
    run = [sys.executable, "-c", _RECOVER_SPOOLS, str(root), text]
    env = {k: v for k, v in os.environ.items() if k != "VOICEBANK_FAULT"}
    killed = subprocess.run(run, cwd=REPO, env={**env, "VOICEBANK_FAULT": "after_rename:1"}, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = subprocess.run(run, cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    with Bank.open(root, writable=False) as bank:
        takes = list(bank.takes.values())
        assert len(takes) == 1, [(t.id, t.source) for t in takes]
        assert takes[0].recovered and takes[0].source == "recovered-capture:cap-1"
        assert takes[0].frames == len(samples)

    root2 = tmp_path / "bank2"  # a browser take: its capture settings survive adoption too
    worker = (
        "import sys, soundfile as sf\n"
        "from voicebank.bank.store import Bank\n"
        "with Bank.open(sys.argv[1]) as bank:\n"
        "    bank.add_prompt(sys.argv[2], prompt_id='p1')\n"
        "    x, rate = sf.read(sys.argv[3], dtype='float32')\n"
        "    bank.save_take('p1', x, rate, source='browser:up1', capture={'echoCancellation': False})\n"
    )
    with Bank.create(root2):
        pass
    killed = subprocess.run(
        [sys.executable, "-c", worker, str(root2), text, str(clip)], cwd=REPO,
        env={**env, "VOICEBANK_FAULT": "after_rename:1"}, capture_output=True, text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with Bank.open(root2) as bank:
        (take,) = bank.takes.values()
        assert take.recovered and take.source == "browser:up1" and take.capture == {"echoCancellation": False}
        assert bank.verify().ok
