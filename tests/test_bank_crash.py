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
