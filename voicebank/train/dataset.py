"""Bank → training dataset: the chosen, usable takes as an LJSpeech-layout folder.

The folder's layout (``wavs/``, ``metadata.csv``, ``metadata_eval.csv``, ``dataset.json``)
and how it is read back and written whole are :mod:`.dataset_files`; its
:func:`load_dataset` and :class:`DatasetInfo` are importable from here too.

``<id>`` is the bank's prompt id (one chosen take per prompt). Coqui's ``ljspeech``
formatter reads ``metadata.csv`` (column 3 is the text) and ``metadata_eval.csv`` as its
evaluation file.

What happens to each take, in order: it must be the chosen take of its prompt, not marked
rejected, not failed by QC, with a transcript that espeak-ng reads as its words once
normalised (:func:`voicebank.voice.transcripts.transcript_problem`: no symbols read out by
name, no letters of another script than the voice's); then its audio is mixed to mono,
trimmed to the speech the detector finds plus ``margin_s`` on each side, resampled, and
scaled so its *active speech level* (RMS over the detected speech only) is ``target_dbfs``,
with the gain capped so the peak stays at or below ``peak_dbfs``. Anything that fails is
listed in the report with its reason; nothing is silently dropped.

The held-out split (:mod:`.dataset_split`) is seeded and stable: utterances are ranked by a hash of
``(seed, id)``, so the same bank gives the same split, and adding takes does not reshuffle
it. A re-run into an existing dataset folder keeps every utterance that was held out
before in the held-out split (a voice trained on the old split has never heard them), and
fills any new held-out places with utterances that were not trained on before where it can.
Given ``eval_ids`` (``--eval-ids FILE``), exactly those are held out, and all must be usable:
several datasets (a learning curve) are then judged on the same recordings.

This module is responsible for the dataset; it does not train or evaluate (see
:mod:`.evaluate`) and never imports Coqui or torch.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, db, resample, to_mono
from ..errors import DatasetError, UsageError, VoicebankError
from ..voice.transcripts import transcript_problem
from .dataset_files import (  # noqa: F401 (DatasetInfo, load_dataset: reached through this module too)
    FORMAT_NAME,
    WAVS,
    DatasetInfo,
    Utterance,
    load_dataset,
    previous_split,
    write_dataset,
)
from .dataset_split import choose_eval, fixed_eval

SCHEMA_VERSION = 1
MIN_UTTERANCES = 2  # one to train on, one to hold out


LONG_BANK_MINUTES = 10.0  # from this much speech on, min_eval_long applies


@dataclass(frozen=True)
class PrepareSettings:
    """How a bank becomes a dataset (stored in ``dataset.json``)."""

    schema_version: int = SCHEMA_VERSION
    sample_rate: int = 22050  # the model's rate (Piper "medium" and Coqui VITS: 22050)
    eval_count: int | None = None  # held-out utterances; None: from eval_fraction and min_eval
    eval_fraction: float = 0.1  # share held out when eval_count is None...
    min_eval: int = 4  # ...but at least this many (and never more than half the dataset)
    # With 10 minutes or more, at least 20 held out (never more than a quarter): scores on a
    # handful of sentences move by several points between runs (docs/offline-voice.md).
    min_eval_long: int = 20
    seed: int = 0  # seeds the held-out ranking
    margin_s: float = 0.15  # silence kept before the first and after the last detected speech
    min_speech_s: float = 0.3  # a take with less detected speech is left out
    target_dbfs: float = -20.0  # active speech level after normalisation
    peak_dbfs: float = -1.0  # the gain never pushes a sample above this
    espeak_voice: str = "en-us"  # espeak-ng voice for the phoneme coverage (and the model's phonemes)
    eval_ids: tuple[str, ...] | None = None  # exactly these held out (one set shared by several datasets)

    def __post_init__(self) -> None:
        if self.eval_ids is not None:
            object.__setattr__(self, "eval_ids", tuple(dict.fromkeys(str(i) for i in self.eval_ids)))
            if self.eval_count is not None:
                raise UsageError("Give the ids to hold out or how many to hold out (--eval-ids or --eval-count), not both.")
            if not self.eval_ids:
                raise UsageError("The list of ids to hold out is empty.")
        if not 8000 <= int(self.sample_rate) <= 96000:
            raise UsageError(f"sample_rate must be between 8000 and 96000 Hz, not {self.sample_rate}.")
        if self.eval_count is not None and int(self.eval_count) < 1:
            raise UsageError("eval_count must be at least 1: a dataset needs held-out utterances to evaluate on.")
        if not 0.0 < float(self.eval_fraction) < 1.0:
            raise UsageError(f"eval_fraction must be between 0 and 1, not {self.eval_fraction}.")
        if int(self.min_eval) < 1:
            raise UsageError("min_eval must be at least 1.")
        if not 0.0 <= float(self.margin_s) <= 2.0:
            raise UsageError(f"margin_s must be between 0 and 2 seconds, not {self.margin_s}.")
        if self.peak_dbfs > 0 or self.target_dbfs > self.peak_dbfs:
            raise UsageError("target_dbfs must not exceed peak_dbfs, and peak_dbfs must be at most 0.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrepareSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"Unknown dataset setting(s): {', '.join(unknown)}.")
        return cls(**dict(data))

    def eval_size(self, n: int, minutes: float = 0.0) -> int:
        """How many of ``n`` usable utterances (``minutes`` of speech) to hold out."""
        if self.eval_count is not None:
            if self.eval_count > n - 1:
                raise UsageError(
                    f"Cannot hold out {self.eval_count} of {n} utterances: at least one must remain to train on. "
                    f"Use --eval-count {max(1, n // 2)} or fewer."
                )
            return int(self.eval_count)
        wanted = max(int(self.min_eval), int(round(self.eval_fraction * n)))
        if minutes >= LONG_BANK_MINUTES:
            wanted = max(wanted, min(int(self.min_eval_long), n // 4))
        return max(1, min(wanted, n // 2))


@dataclass(frozen=True)
class Rejected:
    """A take that is not in the dataset, and why."""

    prompt_id: str
    take_id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PhonemeCoverage:
    """Which sounds the training split contains (phones and diphones as in :mod:`voicebank.bank.prompts`).

    ``covered``/``total`` count the diphones of the en-core denominator (a large English
    word list phonemized with the same espeak-ng) that occur in the training texts.
    """

    phones: int = 0  # distinct phones in the training texts
    diphones: int = 0  # distinct word-internal diphones (with word boundaries)
    covered: int = 0  # of the denominator's diphones
    total: int = 0  # the denominator's diphones
    fraction: float = 0.0  # covered / total
    weighted: float = 0.0  # share of the word list's diphone occurrences covered
    missing_phones: list[str] = field(default_factory=list)  # English phones never heard in training
    rare_phones: list[str] = field(default_factory=list)  # heard fewer than 3 times
    phone_counts: dict[str, int] = field(default_factory=dict)
    phonemizer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DatasetReport:
    """What :func:`prepare_dataset` made: counts, minutes, the split, what was left out and why."""

    path: str
    sample_rate: int
    utterances: int  # train + eval
    train: int
    eval: int
    minutes: float  # train + eval, after trimming
    train_minutes: float
    eval_minutes: float
    eval_ids: list[str]
    rejected: list[Rejected]
    coverage: PhonemeCoverage
    prompts_without_chosen_take: int = 0
    kept_eval: int = 0  # held-out utterances carried over from the previous dataset in OUT
    settings: PrepareSettings = field(default_factory=PrepareSettings)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "schema_version": self.schema_version,
            "path": self.path,
            "sample_rate": self.sample_rate,
            "utterances": self.utterances,
            "train": self.train,
            "eval": self.eval,
            "minutes": round(self.minutes, 3),
            "train_minutes": round(self.train_minutes, 3),
            "eval_minutes": round(self.eval_minutes, 3),
            "eval_ids": list(self.eval_ids),
            "rejected": [r.to_dict() for r in self.rejected],
            "coverage": self.coverage.to_dict(),
            "prompts_without_chosen_take": self.prompts_without_chosen_take,
            "kept_eval": self.kept_eval,
            "settings": self.settings.to_dict(),
        }


@dataclass(frozen=True)
class PrepareEvent:
    """Progress of :func:`iter_prepare`: one take handled, or the finished report."""

    kind: str  # "utterance" | "rejected" | "done"
    done: int = 0
    total: int = 0
    prompt_id: str = ""
    message: str = ""
    report: DatasetReport | None = None


# ----------------------------------------------------------------------------- public API


def prepare_dataset(
    bank: Any,
    out: PathLike,
    *,
    sample_rate: int = 22050,
    eval_count: int | None = None,
    eval_fraction: float = 0.1,
    min_eval: int = 4,
    seed: int = 0,
    margin_s: float = 0.15,
    target_dbfs: float = -20.0,
    peak_dbfs: float = -1.0,
    espeak_voice: str = "en-us",
    eval_ids: Iterable[str] | None = None,
) -> DatasetReport:
    """Write the LJSpeech-layout dataset of a bank's chosen, usable takes to ``out``.

    ``bank`` is an open :class:`~voicebank.bank.store.Bank` or the path of one (opened
    read-only). See the module docstring for what is done to each take and how the
    held-out split is chosen. Raises :class:`DatasetError` when nothing usable remains or
    too little to hold anything out; ``UsageError`` for bad settings or an ``out`` folder
    that is not a dataset.
    """
    settings = PrepareSettings(
        sample_rate=sample_rate,
        eval_count=eval_count,
        eval_fraction=eval_fraction,
        min_eval=min_eval,
        seed=seed,
        margin_s=margin_s,
        target_dbfs=target_dbfs,
        peak_dbfs=peak_dbfs,
        espeak_voice=espeak_voice,
        eval_ids=tuple(eval_ids) if eval_ids is not None else None,
    )
    report = None
    for event in iter_prepare(bank, out, settings):
        report = event.report or report
    assert report is not None  # iter_prepare always ends with "done" or raises
    return report


def iter_prepare(bank: Any, out: PathLike, settings: PrepareSettings | None = None) -> Iterator[PrepareEvent]:
    """:func:`prepare_dataset` as a generator of progress events; the last one carries the report."""
    from ..bank.store import Bank

    settings = settings or PrepareSettings()
    out = Path(out)
    previous = previous_split(out)
    if isinstance(bank, Bank):
        yield from _prepare(bank, out, settings, previous)
        return
    with Bank.open(bank, writable=False) as opened:
        yield from _prepare(opened, out, settings, previous)


# ------------------------------------------------------------------------------ the work


@dataclass
class _Kept:
    utt: Utterance
    audio: np.ndarray  # int16, mono, at the dataset rate
    phones: list[list[str]]  # its words as phones, for the coverage


def _prepare(bank: Any, out: Path, settings: PrepareSettings, previous: tuple[set[str], set[str]]) -> Iterator[PrepareEvent]:
    chosen = [(pid, bank.chosen_take(pid)) for pid in bank.prompts if bank.chosen_take(pid) is not None]
    if not chosen:
        raise DatasetError(
            f"The bank {bank.root} has no chosen takes: record or accept some takes first "
            "(voicebank record BANK, or voicebank bank choose BANK TAKE)."
        )
    kept: list[_Kept] = []
    rejected: list[Rejected] = []
    phonemizer = yield from _collect(bank, chosen, settings, kept, rejected)
    if not kept:
        raise DatasetError(
            f"None of the {len(chosen)} chosen takes can be used for training "
            f"({_reason_summary(rejected)}). Record or accept some takes first, or fix their transcripts."
        )
    if len(kept) < MIN_UTTERANCES:
        raise DatasetError(
            f"Only {len(kept)} usable utterance: at least {MIN_UTTERANCES} are needed, one to train on and one "
            "held out to check the voice (and a few hundred for a good voice). Record more takes first."
        )
    if settings.eval_ids is not None:
        eval_ids, kept_eval = fixed_eval([k.utt.id for k in kept], settings.eval_ids, {r.prompt_id: r.reason for r in rejected}, previous[0])
    else:
        eval_ids, kept_eval = choose_eval(
            [k.utt.id for k in kept], settings.eval_size(len(kept), sum(k.utt.seconds for k in kept) / 60.0),
            settings.seed, *previous
        )
    train = [k for k in kept if k.utt.id not in eval_ids]
    held = [k for k in kept if k.utt.id in eval_ids]
    report = DatasetReport(
        path=str(out),
        sample_rate=settings.sample_rate,
        utterances=len(kept),
        train=len(train),
        eval=len(held),
        minutes=sum(k.utt.seconds for k in kept) / 60.0,
        train_minutes=sum(k.utt.seconds for k in train) / 60.0,
        eval_minutes=sum(k.utt.seconds for k in held) / 60.0,
        eval_ids=[k.utt.id for k in held],
        rejected=rejected,
        coverage=phoneme_coverage([w for k in train for w in k.phones], phonemizer.description),
        prompts_without_chosen_take=sum(
            1 for pid in bank.prompts if bank.chosen_take(pid) is None and bank.takes_for(pid)
        ),
        kept_eval=kept_eval,
        settings=settings,
    )
    _write(out, train, held, report)
    yield PrepareEvent("done", len(chosen), len(chosen), report=report)


def _collect(
    bank: Any, chosen: list[tuple[str, Any]], settings: PrepareSettings, kept: list[_Kept], rejected: list[Rejected]
) -> Generator[PrepareEvent, None, Any]:
    """Check and process each chosen take into ``kept`` or ``rejected``; returns the phonemizer."""
    from ..bank.vad import SpeechDetector
    from ..engines.phonemize import make_phonemizer
    from ..text import normalize

    phonemizer = make_phonemizer("auto")
    detector = SpeechDetector()
    for n, (pid, take) in enumerate(chosen, 1):
        normalized = normalize(take.text) if take.text.strip() else ""
        reason = _take_problem(take) or _text_problem(take.text, normalized, settings.espeak_voice)
        words: list[list[str]] = []
        if reason is None:
            words = _phone_words(phonemizer, settings.espeak_voice, normalized)
            if not words:
                reason = "espeak-ng found nothing to pronounce in its text; check the transcript"
        audio = None
        if reason is None:
            audio, reason = _process_audio(bank, take, settings, detector)
        if reason is not None or audio is None:
            rejected.append(Rejected(pid, take.id, reason or "unusable"))
            yield PrepareEvent("rejected", n, len(chosen), pid, reason or "")
            continue
        seconds = audio.shape[0] / settings.sample_rate
        utt = Utterance(pid, _one_line(take.text), _one_line(normalized), Path(WAVS) / f"{pid}.wav", seconds, take.id)
        kept.append(_Kept(utt, audio, words))
        yield PrepareEvent("utterance", n, len(chosen), pid)
    return phonemizer


def _take_problem(take: Any) -> str | None:
    if take.status == "rejected":
        return "the take is marked rejected in the bank"
    if take.qc_verdict == "fail":
        fails = [c.get("message", "") for c in take.qc.get("checks", []) if c.get("verdict") == "fail"]
        detail = "; ".join(m for m in fails if m)[:300]
        return "it failed the quality check" + (f": {detail}" if detail else "")
    if not take.text.strip():
        return (
            f"it has no transcript (an untranscribed import): add the words that are said with "
            f"voicebank bank transcribe BANK {take.prompt_id} \"...\" (or --draft), or leave it out"
        )
    return None


def _text_problem(text: str, normalized: str, espeak_voice: str) -> str | None:
    """Why espeak-ng cannot read ``text`` once normalised (None when it can); see :mod:`voicebank.voice.transcripts`."""
    # letters of another script are judged as written: the frontend drops them before espeak-ng
    letters = "".join(ch for ch in text if unicodedata.category(ch).startswith("L"))
    why = transcript_problem(letters, espeak_voice) if letters else None
    if why is None or why == "no words to say":
        why = transcript_problem(normalized, espeak_voice)
    if why == "no words to say":
        return f"its transcript {text[:60]!r} has no words to say after normalisation"
    return f"its transcript has {why}" if why else None


def _phone_words(phonemizer: Any, voice: str, normalized: str) -> list[list[str]]:
    """The text's words as phone lists (see :func:`voicebank.bank.prompts.split_phones`)."""
    from ..bank.prompts import tokenize_ipa

    words: list[list[str]] = []
    for sentence in phonemizer.phonemize(voice, normalized):
        words += tokenize_ipa(unicodedata.normalize("NFC", "".join(sentence)))
    return words


def _process_audio(bank: Any, take: Any, settings: PrepareSettings, detector: Any) -> tuple[np.ndarray | None, str | None]:
    """Trim, resample and level-match one take; (int16 samples, None) or (None, reason)."""
    from ..bank.vad import speech_segments

    try:
        data, rate = bank.read_take(take)
    except VoicebankError as exc:
        return None, f"its audio cannot be read: {exc}"
    except OSError as exc:
        return None, f"its audio cannot be read ({exc}); run: voicebank bank verify BANK"
    x = to_mono(data)
    segs = speech_segments(x, rate, detector=detector)
    speech = sum(e - s for s, e in segs)
    if speech < settings.min_speech_s:
        return None, f"the speech detector found only {speech:.2f} s of speech in it (at least {settings.min_speech_s} s needed)"
    dur = x.shape[0] / rate
    a = max(0.0, segs[0][0] - settings.margin_s)
    b = min(dur, segs[-1][1] + settings.margin_s)
    y = resample(x[int(a * rate) : int(round(b * rate))], rate, settings.sample_rate)
    sr = settings.sample_rate
    mask = np.zeros(y.shape[0], dtype=bool)
    for s, e in segs:
        mask[max(0, int((s - a) * sr)) : max(0, int((e - a) * sr))] = True
    level = float(np.sqrt(np.mean(np.square(y[mask], dtype=np.float64)))) if mask.any() else 0.0
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if level <= 0.0 or peak <= 0.0:
        return None, "it is silent"
    gain = min(10 ** ((settings.target_dbfs - db(level)) / 20.0), 10 ** (settings.peak_dbfs / 20.0) / peak)
    out = np.clip(y * gain, -1.0, 32767 / 32768)
    return np.round(out * 32768.0).astype(np.int16), None


def _one_line(text: str) -> str:
    """Text safe for one ``|``-separated line."""
    return " ".join(text.replace("|", " ").split())


def _reason_summary(rejected: list[Rejected]) -> str:
    """The commonest reasons, each with a count and one full example."""
    kinds = Counter(_reason_kind(r.reason) for r in rejected)
    example = {}
    for r in rejected:
        example.setdefault(_reason_kind(r.reason), f"{r.prompt_id}: {r.reason}")
    return "; ".join(f"{n} like {example[kind]}" for kind, n in kinds.most_common(3))


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0].split(" (")[0]


# ------------------------------------------------------------------------ coverage


def phoneme_coverage(words: list[list[str]], phonemizer: str = "") -> PhonemeCoverage:
    """Phones and diphones of phonemized training text, against the en-core denominator."""
    from ..bank.prompts import diphones_of, open_script

    counts: Counter[str] = Counter(p for w in words for p in w)
    found = diphones_of(words)
    den = open_script().denominator
    # English phones: those of the word list, less the few in foreign loans (under 0.01 % of it)
    per_phone: Counter[str] = Counter()
    for (first, _), n in den.counts.items():
        per_phone[first] += n
    inventory = {p for p, n in per_phone.items() if n >= 1e-4 * sum(per_phone.values())} - {"#"}
    covered = found & den.diphones
    occurrences = sum(den.counts.values())
    return PhonemeCoverage(
        phones=len(counts),
        diphones=len(found),
        covered=len(covered),
        total=len(den.counts),
        fraction=round(len(covered) / len(den.counts), 4) if den.counts else 0.0,
        weighted=round(sum(den.counts[d] for d in covered) / occurrences, 4) if occurrences else 0.0,
        missing_phones=sorted(inventory - set(counts)),
        rare_phones=sorted(p for p in inventory if 0 < counts.get(p, 0) < 3),
        phone_counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        phonemizer=phonemizer,
    )


# ------------------------------------------------------------------------------- writing


def _write(out: Path, train: list[_Kept], held: list[_Kept], report: DatasetReport) -> None:
    """The dataset folder with its report (and which take each row came from)."""
    data = report.to_dict()
    data["utterance_list"] = [
        {"id": k.utt.id, "take": k.utt.take_id, "seconds": round(k.utt.seconds, 3),
         "split": "eval" if k in held else "train"}
        for k in train + held
    ]
    write_dataset(out, [(k.utt, k.audio) for k in train], [(k.utt, k.audio) for k in held], data, report.sample_rate)
