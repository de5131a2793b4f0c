"""Speak at the person's own pace: the length scale that gives a voice the timing of its recordings.

A voice fine-tuned with the duration predictor frozen (the ``vits-offline`` recipe: a few
minutes of speech cannot teach timing without garbling new text) keeps the base voice's
timing, so it speaks at the stock voice's rate, not the person's. Timing is one number
away: the length scale multiplies every phoneme's duration. It is measured here on the
*training* clips (never the held-out ones, which score the voice): the voice speaks each
training text, and the speech in its audio is compared with the speech in the recording.

Speech is measured between the first and the last frame within ``RANGE_DB`` of the clip's
loudest frame, so the silence kept around a recording (the dataset keeps 0.15 s each side)
and the voice's own lead-in do not count. The ratio of the sums (recordings over voice)
scales the voice's current length scale; it is bounded to ``LIMITS`` and left alone when
within ``TOLERANCE`` of 1.

Measured (2026-12-02, 28 LJSpeech training clips, 4 held-out texts, 3 takes each): the
person speaks 1.23x slower than a ``vits-offline`` voice at step 300. Speaking at that pace
left similarity alone (0.686 vs 0.685) but raised PocketSphinx's WER from 0.50 to 0.61, so
matching the pace is offered (``voicebank train export --pace recordings``), not imposed.
On the stock voice, slowing it by 1.2 made no clear difference (WER 0.34 over 5 takes,
against 0.36 over 10 takes at its own pace).

Responsible for: the speech extent of a clip, the measurement over a set of texts. Not
responsible for synthesis (a ``speak`` callable is given) or for where the result is
written (:mod:`.export`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import PaceError

RANGE_DB = 35.0  # frames this far below the loudest one are silence
FLOOR_DBFS = -60.0  # and anything quieter than this in any case
LIMITS = (0.7, 1.5)  # a measured length scale outside this is clipped (a bad measurement, not a pace)
TOLERANCE = 0.03  # a ratio within 3 % of 1 leaves the length scale as it is
MAX_UTTERANCES = 40  # enough to average out the duration noise; a big bank is sampled evenly


@dataclass(frozen=True)
class Pace:
    """The result of :func:`measure_pace`."""

    length_scale: float  # the scale to speak with from now on
    previous: float  # the scale the voice was measured at
    ratio: float  # speech seconds of the recordings / of the voice at ``previous``
    utterances: int
    recordings_seconds: float
    voice_seconds: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def speech_seconds(samples: np.ndarray, rate: int, frame: int = 1024, hop: int = 256) -> float:
    """Seconds from the first to the last frame with speech in it (0.0 for silence)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < frame:
        x = np.pad(x, (0, frame - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop]
    starts = np.arange(frames.shape[0]) * hop
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    threshold = max(level.max() - RANGE_DB, FLOOR_DBFS)
    loud = np.flatnonzero(level > threshold)
    if loud.size == 0:
        return 0.0
    return float((starts[loud[-1]] + frame - starts[loud[0]]) / rate)


def measure_pace(
    speak: Callable[[Any], "tuple[np.ndarray, int]"],
    clips: Sequence[tuple[Any, float]],
    length_scale: float = 1.0,
) -> Pace:
    """How much slower (ratio > 1) the person speaks than the voice, from ``(what, recording speech seconds)``.

    ``speak`` says ``what`` (a text, or its phoneme ids) at ``length_scale`` and returns
    ``(samples, rate)``. Clips whose recording or synthesis has no speech in it are left
    out; with none left a :class:`~voicebank.errors.PaceError` says which side was silent.
    """
    chosen = list(clips)
    if len(chosen) > MAX_UTTERANCES:
        picks = np.linspace(0, len(chosen) - 1, MAX_UTTERANCES).round().astype(int)
        chosen = [chosen[i] for i in picks]
    real_total = voice_total = 0.0
    used = silent_recordings = silent_voice = 0
    for text, real in chosen:
        if real <= 0.0:
            silent_recordings += 1
            continue
        samples, rate = speak(text)
        spoken = speech_seconds(samples, rate)
        if spoken <= 0.0:
            silent_voice += 1
            continue
        real_total += real
        voice_total += spoken
        used += 1
    if not used:
        raise PaceError(_no_speech_message(len(chosen), silent_recordings, silent_voice))
    ratio = real_total / voice_total
    scale = length_scale if abs(ratio - 1.0) < TOLERANCE else length_scale * ratio
    scale = round(min(max(scale, LIMITS[0]), LIMITS[1]), 3)
    return Pace(scale, float(length_scale), float(ratio), used, float(real_total), float(voice_total))


def _no_speech_message(clips: int, silent_recordings: int, silent_voice: int) -> str:
    if not clips:
        return "There are no training clips to measure the speaking rate on; export without --pace recordings."
    why = []
    if silent_recordings:
        why.append(f"{silent_recordings} of the {clips} recordings hold no speech (check that the dataset's audio is not silent)")
    if silent_voice:
        why.append(f"the voice said nothing audible for {silent_voice} of them (check that it speaks: voicebank speak --voice ...)")
    return (
        "The speaking rate cannot be measured: " + "; ".join(why) + ". "
        "Fix that, or export without --pace recordings to keep the recipe's rate."
    )
