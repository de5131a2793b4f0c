"""A narration killed with SIGKILL three times, then rerun, gives the uninterrupted run's audio bit for bit, and makes no chunk twice.

The real ``voicebank narrate`` process is killed once at least one more chunk has been
committed (the test polls the cache), after a random extra delay so kills land mid-synthesis
as well as just after a commit. Its workers die with it (they would otherwise go on
committing). The cache's commit log then shows each chunk committed exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]

BOOK = """---
title: Two Short Walks
author: The voicebank tests
language: en
---

# The Hill

We left the house at 7:30 a.m. and walked up the hill. The grass was wet.
A dog followed us for a while, then went home.

At the top we sat on a flat stone. The town below looked very small.
We ate two apples and watched the clouds.

# The Shore

In the afternoon we walked along the shore. The tide was out.
Gulls stood in a line on the sand, all facing the wind.

We found a green glass float, a crab shell and a length of blue rope.
By six o'clock it was cold, and we turned back.
"""


def narrate(book: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = ["narrate", str(book), "--out", str(out), "--format", "m4b", "--workers", "2", "--no-watermark"]
    return subprocess.Popen(VOICEBANK + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def committed(out: Path) -> int:
    return len(list((out / "cache" / "chunks").glob("*/*.npz")))


def finish(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr.decode() + stdout.decode()
    return stdout.decode(), stderr.decode()


@pytest.mark.slow
def test_killed_three_times_then_rerun_is_bit_identical(home: Path, tmp_path: Path) -> None:
    from voicebank.audiobook.cache import ChunkCache

    env = dict(os.environ, VOICEBANK_HOME=str(home))
    book = tmp_path / "walks.md"
    book.write_text(BOOK)
    reference, out = tmp_path / "reference", tmp_path / "killed"
    finish(narrate(book, reference, env))
    distinct = committed(reference)
    assert distinct >= 8

    rng = random.Random(int(time.time()))
    kills = 0
    while kills < 3:
        before = committed(out) if (out / "cache").exists() else 0
        assert before < distinct, "the kills came too late to interrupt synthesis"
        proc = narrate(book, out, env)
        # a random point within synthesis, leaving chunks for the kills still to come (workers
        # commit a chunk every ~0.1 s, so the short random wait overshoots by a chunk at most)
        want = max(before + 1, min(before + rng.randint(1, 2), distinct - (3 - kills) - 1))
        while committed(out) < want and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.05))
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    stdout, stderr = finish(narrate(book, out, env))
    done = int(stdout.split(" sentences were already done")[0].rsplit("(", 1)[1])
    assert 3 <= done <= distinct
    assert f"Resuming: {done} of {distinct} sentences already done." in stderr
    assert f"{done} sentences were already done, {distinct - done} made now" in stdout

    for wav in sorted((reference / "pcm").glob("*.wav")):
        assert (out / "pcm" / wav.name).read_bytes() == wav.read_bytes(), wav.name
    commits = ChunkCache(out / "cache").commits()
    assert len(commits) == distinct
    assert set(commits.values()) == {1}, "a committed chunk was synthesized again"
