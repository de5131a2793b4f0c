"""The one thing to do about a take's quality problems, in a few plain words.

:mod:`voicebank.bank.qc` judges a take and explains each check in a full sentence
(``Check.message``). A person recording on a tablet between two sentences needs less:
what went wrong and the single thing to change, e.g. "Too quiet: move closer to the
microphone, or speak up." This module turns a check into that line (:func:`advice`) and
picks the problem to show first when several fail (:func:`primary`).

Front ends call it per take::

    report = qc.analyze(samples, rate, text=prompt_text, baseline=baseline)
    top = primary(report)                 # None: nothing to fix
    line = advice(top) if top else ""     # what the page shows under the verdict
    rows = problems(report)               # every problem, the primary first, for a list

Every check name that ``qc`` can fail or warn on has its own words here (a test keeps
the two in step); any other name gets :data:`DEFAULT_ADVICE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .qc import VERDICTS, Check, QCReport, QCThresholds

DEFAULT_ADVICE = "Something is not quite right: listen back, and if it sounds wrong, record it again."

# When several checks go wrong, the one to fix first: problems with the equipment or
# setup (nothing else can be judged fairly until they are fixed), then damage that cannot
# be repaired later (distortion, missing words), then level and room, then delivery.
# Level comes before noise: moving closer raises the voice above the room as well.
# Cut-off edges come before speaking rate: words cut away also make the pace look fast.
PRIORITY = (
    "speech",
    "bit_depth",
    "sample_rate",
    "channels",
    "bandwidth",
    "clipping",
    "truncated_start",
    "truncated_end",
    "level",
    "noise",
    "too_long",
    "speaking_rate",
    "duration",
    "silence_start",
    "silence_end",
)


def _fixed(fail: str, warn: str | None = None) -> Callable[[Check, QCThresholds], str]:
    return lambda c, th: fail if c.verdict == "fail" or warn is None else warn


def _level(c: Check, th: QCThresholds) -> str:
    # Only a warning can say "too loud"; below the loud mark the level check speaks of quietness.
    if c.value is not None and c.value > th.loud_warn_dbfs:
        return "Very loud: move back from the microphone a little."
    if c.verdict == "fail":
        return "Too quiet: move closer to the microphone, or speak up."
    return "A bit quiet: move a little closer to the microphone."


def _speaking_rate(c: Check, th: QCThresholds) -> str:
    much = "Much" if c.verdict == "fail" else "A bit"
    if c.value is None or c.value >= 1.0:  # the value is this take's pace over the usual one
        # Letters per second of speech: words left out look like reading fast.
        return f"{much} faster than you usually read, or words were left out: read the whole sentence at your usual pace."
    return f"{much} slower than you usually read: if you are tired, take a break; then read at your usual pace."


def _channels(c: Check, th: QCThresholds) -> str:
    if c.value is not None and c.value < 0:  # the level lost in mixing: the channels cancel
        return "The two channels cancel each other out: record in mono, or check the microphone cable."
    return "A channel is silent: choose a mono input, or plug the microphone into the right socket."


_ADVICE: dict[str, Callable[[Check, QCThresholds], str]] = {
    "speech": _fixed("No speech heard: check that the microphone is on and not muted, then record again."),
    "bit_depth": _fixed("Low-quality file (8-bit): set the recorder to 16-bit or better."),
    "sample_rate": _fixed(
        "Telephone quality: set the microphone to 44100 or 48000 Hz.",
        "Low sample rate: set the microphone to 44100 or 48000 Hz if you can.",
    ),
    "channels": _channels,
    "bandwidth": _fixed("Sounds muffled: record straight into a good microphone, not through a phone call."),
    "clipping": _fixed(
        "Clipped: speak a little softer, or move back from the microphone.",
        "Almost clipped: move back from the microphone a little.",
    ),
    "truncated_start": _fixed(
        "Cut off at the start: wait a moment after the count-in before you speak.",
        "May be cut off at the start: wait a moment after the count-in before you speak.",
    ),
    "truncated_end": _fixed(
        "Cut off at the end: wait a moment after your last word before stopping.",
        "May be cut off at the end: wait a moment after your last word before stopping.",
    ),
    "level": _level,
    "noise": _fixed(
        "Noisy background: find a quieter room, or close the window and switch off fans and TV.",
        "Some background noise: a quieter room would help.",
    ),
    "too_long": _fixed("Too long for one take: read one sentence, then stop."),
    "speaking_rate": _speaking_rate,
    "duration": _fixed("Much longer than your usual takes: read only the sentence shown, then stop."),
    "silence_start": _fixed("Long wait before you spoke: start a little sooner after the count-in."),
    "silence_end": _fixed("Long silence at the end: stop a little sooner after your last word."),
}


def advice(check: Check | str, report: QCReport | None = None, thresholds: QCThresholds = QCThresholds()) -> str:
    """The one thing to do about ``check``: a :class:`~voicebank.bank.qc.Check`, or a check's name in ``report``.

    Returns one short line, "What went wrong: what to do.", or ``""`` for a check that
    passed (or a name that is not in ``report``). ``thresholds`` must be the ones the
    report was made with (they tell a loud take from a quiet one); the default matches
    ``qc.analyze``'s default. ``advice(c)`` and ``advice(c.name, report)`` say the same.
    """
    if isinstance(check, str):
        found = report.check(check) if report is not None else None
        if found is None:
            return ""
        check = found
    if check.verdict == "pass":
        return ""
    how = _ADVICE.get(check.name)
    return how(check, thresholds) if how is not None else DEFAULT_ADVICE


def _rank(check: Check) -> tuple[int, int]:
    order = PRIORITY.index(check.name) if check.name in PRIORITY else len(PRIORITY)
    return -VERDICTS.index(check.verdict) if check.verdict in VERDICTS else 0, order


def ranked(report: QCReport) -> list[Check]:
    """The checks that did not pass, the one to fix first at the head (fails before warnings)."""
    return sorted(report.problems(), key=_rank)


def primary(report: QCReport) -> Check | None:
    """The single most important problem of ``report``, or None when every check passed."""
    bad = ranked(report)
    return bad[0] if bad else None


def problems(report: QCReport, thresholds: QCThresholds = QCThresholds()) -> list[dict[str, Any]]:
    """Every problem as ``{"check", "verdict", "message", "advice"}``, the primary one first.

    The shape of the ``problems`` list in the recorder API's take (docs/recorder-api.md).
    """
    return [
        {"check": c.name, "verdict": c.verdict, "message": c.message, "advice": advice(c, thresholds=thresholds)}
        for c in ranked(report)
    ]
