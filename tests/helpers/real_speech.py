"""Real speech on this machine, by speaker, for tests: found by the verifier benchmark, skipped when absent.

Speakers (see :func:`voicebank.benchmarks.verifier.offline_speakers`): ``ljspeech`` (a US
woman, ../shared/data/ljspeech-sample), ``librivox-man``, ``cards-man`` and
``pocketsphinx-man`` (Debian pocketsphinx-testdata), and ``asterisk`` (a US woman) when
``VOICEBANK_ASTERISK_DATA`` names the folder ``scripts/asterisk_dataset.py`` wrote.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicebank.benchmarks.verifier import ASTERISK_ENV, Clip, Speaker, offline_speakers

__all__ = ["Clip", "Speaker", "speakers", "speaker", "clips"]


def speakers() -> dict[str, Speaker]:
    """Every real speaker found, by name."""
    return {s.name: s for s in offline_speakers()}


def speaker(name: str) -> Speaker:
    """One speaker's recordings, or skip the test saying what is missing."""
    found = speakers().get(name)
    if found is None:
        where = f"set {ASTERISK_ENV} to the folder scripts/asterisk_dataset.py made" if name == "asterisk" else "not on this machine"
        pytest.skip(f"real speech of {name!r} not available ({where})")
    return found


def clips(name: str, count: int, *, min_seconds: float = 1.0) -> list[tuple[np.ndarray, int]]:
    """The first ``count`` clips of a speaker lasting at least ``min_seconds``, loaded as (mono float32, rate)."""
    chosen = [c for c in speaker(name).clips if c.seconds() >= min_seconds][:count]
    if len(chosen) < count:
        pytest.skip(f"only {len(chosen)} clips of {name!r} last {min_seconds} s or more; the test needs {count}")
    return [c.load() for c in chosen]
