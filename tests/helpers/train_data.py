"""Small real datasets and recipe files for the training tests.

Datasets are LJSpeech-layout folders (``wavs/``, ``metadata.csv``, ``metadata_eval.csv``)
built from the shortest clips of ``../shared/data/ljspeech-sample`` (symlinked, not copied).
Recipes are the shipped ``vits-tiny`` with some values changed, written as TOML files the
way a user would write their own.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from tests.conftest import LJSPEECH


@pytest.fixture(scope="module", autouse=True)
def one_thread_session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One torch thread (two cores are shared) and the session's VOICEBANK_HOME (engine caches made once).

    Autouse for a module that imports it: ``from tests.helpers.train_data import one_thread_session_home``.
    """
    import torch

    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICEBANK_HOME", str(tmp_path_factory.getbasetemp() / "voicebank-home"))
        yield


def ljspeech_rows() -> list[str]:
    """``id|text|normalized`` rows of the sample, shortest clip first."""
    rows = [r for r in (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines() if r.strip()]
    return sorted(rows, key=lambda r: sf.info(str(LJSPEECH / "wavs" / f"{r.split('|')[0]}.wav")).frames)


def make_dataset(out: Path, n_train: int = 8, n_eval: int = 2, texts: dict[str, str] | None = None) -> Path:
    """A dataset of the ``n_train + n_eval`` shortest clips; ``texts`` replaces transcripts by id."""
    rows = ljspeech_rows()[: n_train + n_eval]
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        uid = row.split("|")[0]
        link = out / "wavs" / f"{uid}.wav"
        if not link.exists():
            link.symlink_to(LJSPEECH / "wavs" / f"{uid}.wav")
        if texts and uid in texts:
            row = f"{uid}|{texts[uid]}|{texts[uid]}"
        lines.append(row)
    (out / "metadata.csv").write_text("".join(f"{r}\n" for r in lines[:n_train]), encoding="utf-8")
    (out / "metadata_eval.csv").write_text("".join(f"{r}\n" for r in lines[n_train:]), encoding="utf-8")
    return out


def write_recipe(path: Path, base: str = "vits-tiny", **sections: dict[str, Any]) -> Path:
    """A user's recipe file: shipped recipe ``base`` with ``sections`` (e.g. ``training={...}``) changed."""
    from voicebank.train.recipes import load_recipe

    data = load_recipe(base).to_dict()
    for name, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(name, {}).update(values)
        else:
            data[name] = values
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def to_toml(data: dict[str, Any]) -> str:
    """TOML for a recipe dict (scalars, lists and one level of tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    top = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    tables = []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append(f"\n[{k}]")
            tables += [f"{kk} = {value(vv)}" for kk, vv in v.items() if vv is not None]
    return "\n".join(top + tables) + "\n"


def sigkill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 120) -> None:
    """SIGKILL ``proc`` (started with ``stderr=PIPE``) as soon as ``ready()`` holds, as a crash would."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"it ended before it could be killed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
