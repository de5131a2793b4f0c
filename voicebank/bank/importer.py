"""Bring existing recordings into a bank: LJSpeech folders and long recordings.

Every imported take is checked by QC against the speaker's running baseline and
stored losslessly; a take that fails QC is kept (marked rejected), never dropped.
The importer yields progress events instead of printing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..audio import PathLike, audio_info, check_wav_size, read_audio
from ..errors import AudioFormatError, UsageError, VoicebankError
from .qc import QCThresholds, SpeakerBaseline, analyze
from .records import safe_id
from .store import Bank, storage_subtype

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass
class ImportEvent:
    """One step of an import: a take stored, a file refused, or a long file cut."""

    kind: str  # "take" | "skipped" | "segmented"
    source: str
    take_id: str = ""
    verdict: str = ""
    problems: list[str] = field(default_factory=list)
    message: str = ""
    duration: float = 0.0


@dataclass
class Cue:
    """A piece of a long recording with its transcript (seconds)."""

    start: float
    end: float
    text: str


def is_ljspeech_folder(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.csv").is_file() and (path / "wavs").is_dir()


def read_ljspeech_metadata(folder: Path) -> list[tuple[str, str]]:
    """(clip id, transcript) pairs from ``metadata.csv`` (``id|text|normalized text``)."""
    rows = []
    meta = folder / "metadata.csv"
    try:
        text = meta.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{meta} is not UTF-8 text ({exc}).") from exc
    for n, row in enumerate(csv.reader(text.splitlines(), delimiter="|", quoting=csv.QUOTE_NONE), 1):
        if not row or not row[0].strip():
            continue
        if len(row) < 2:
            raise UsageError(f"{meta} line {n}: expected 'id|text', got {'|'.join(row)!r}.")
        rows.append((row[0].strip(), row[1].strip()))
    if not rows:
        raise UsageError(f"{meta} lists no clips.")
    return rows


class Importer:
    """Adds takes to an open, writable bank with QC against the speaker's baseline."""

    def __init__(self, bank: Bank, thresholds: QCThresholds | None = None) -> None:
        self.bank = bank
        self.thresholds = thresholds or QCThresholds()

    def _store(self, prompt_id: str, samples: np.ndarray, rate: int, subtype: str, source: str) -> ImportEvent:
        prompt = self.bank.prompts[prompt_id]
        baseline = SpeakerBaseline.from_measures(self.bank.qc_measures())
        report = analyze(samples, rate, text=prompt.text or None, baseline=baseline, thresholds=self.thresholds)
        failed = report.verdict == "fail"
        take = self.bank.save_take(
            prompt_id,
            samples,
            rate,
            subtype=subtype,
            qc=report.to_dict(),
            status="rejected" if failed else "accepted",
            choose=not failed and self.bank.chosen.get(prompt_id) is None,
            source=source,
        )
        return ImportEvent(
            "take",
            source,
            take.id,
            report.verdict,
            [f"{c.name}: {c.message}" for c in report.problems()],
            duration=take.duration,
        )

    def _load_file(self, path: Path, *, single_take: bool = False) -> tuple[np.ndarray, int, str]:
        info = audio_info(path)
        check_wav_size(path)
        subtype = storage_subtype(info.subtype)
        if single_take:  # refuse from the header, before reading an hour of audio
            self._refuse_too_long(path, info.duration)
        data, rate = read_audio(path)
        samples = data[:, 0] if data.shape[1] == 1 else data
        return samples, rate, subtype

    def import_ljspeech(self, folder: PathLike) -> Iterator[ImportEvent]:
        """Each clip of an LJSpeech folder becomes a prompt (its transcript) with one chosen take."""
        root = Path(folder)
        for clip_id, text in read_ljspeech_metadata(root):
            wav = root / "wavs" / f"{clip_id}.wav"
            pid = safe_id(clip_id)
            if pid in self.bank.prompts and self.bank.takes_for(pid):
                yield ImportEvent("skipped", str(wav), message="already in the bank")
                continue
            try:
                samples, rate, subtype = self._load_file(wav, single_take=True)
            except VoicebankError as exc:
                yield ImportEvent("skipped", str(wav), message=str(exc))
                continue
            self.bank.add_prompt(text, kind="imported", prompt_id=pid)
            yield self._store(pid, samples, rate, subtype, str(wav))

    def _refuse_too_long(self, path: Path, seconds: float) -> None:
        if seconds > self.thresholds.max_take_s:
            raise AudioFormatError(
                f"{path} is {seconds:.0f} s long, too long for one take (at most "
                f"{self.thresholds.max_take_s:.0f} s). Import it as a long recording instead: "
                "voicebank bank import-audio BANK FILE --transcript TRANSCRIPT"
            )

    def add_take_file(self, prompt_id: str, path: PathLike) -> ImportEvent:
        """Offer one existing file as a take of one prompt (refuses long recordings)."""
        p = Path(path)
        samples, rate, subtype = self._load_file(p, single_take=True)
        if prompt_id not in self.bank.prompts:
            self.bank.add_prompt(self._script_text(prompt_id), kind="script", prompt_id=prompt_id)
        return self._store(prompt_id, samples, rate, subtype, str(p))

    def _script_text(self, prompt_id: str) -> str:
        """The text of a prompt of the bank's script that the bank has not listed yet."""
        from .prompts import list_scripts, load_script

        name = str(self.bank.meta.get("script") or "")
        script = {q.id: q.text for q in load_script(name)} if name in list_scripts() else {}
        if prompt_id in script:
            return script[prompt_id]
        known = sorted(self.bank.prompts)
        where = f"nor in its script {name} ({min(script)}-{max(script)})" if script else "and it has no prompt script"
        listed = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
        advice = [f"Its prompts: {listed}."] if known else []
        if script:
            advice.append(f"See the script's prompts with: voicebank prompts list --script {name}")
        raise UsageError(" ".join([f"There is no prompt {prompt_id!r} in {self.bank.root} {where}.", *advice]))

    def import_long(self, path: PathLike, cues: list[Cue] | None) -> Iterator[ImportEvent]:
        """Cut a long recording into utterances and store each as a take.

        With ``cues`` (from subtitles or labels) each cue is one utterance with its text;
        without, speech is cut at pauses found by VAD and stored untranscribed.
        """
        from .vad import split_long_recording

        p = Path(path)
        samples, rate, subtype = self._load_file(p)
        total = samples.shape[0] / rate
        if cues is None:
            spans = split_long_recording(samples, rate, max_len=min(15.0, self.thresholds.max_take_s))
            pieces = [Cue(s, e, "") for s, e in spans]
        else:
            pieces = [c for c in cues if c.end > c.start and c.start < total]
        yield ImportEvent("segmented", str(p), message=f"{len(pieces)} utterances from {total / 60:.1f} min")
        stem = safe_id(p.stem)
        pad = 0.15 if cues is not None else 0.0  # VAD pieces already carry their own margin
        for n, cue in enumerate(pieces, 1):
            a = max(0, int((cue.start - pad) * rate))
            b = min(samples.shape[0], int((cue.end + pad) * rate))
            if b - a < int(0.3 * rate):
                yield ImportEvent("skipped", f"{p}@{cue.start:.2f}", message="shorter than 0.3 s")
                continue
            pid = safe_id(f"{stem}-{n:04d}")
            if pid in self.bank.prompts and self.bank.takes_for(pid):
                yield ImportEvent("skipped", f"{p}@{cue.start:.2f}", message="already in the bank")
                continue
            self.bank.add_prompt(cue.text or "", kind="imported", prompt_id=pid)
            yield self._store(pid, samples[a:b], rate, subtype, f"{p}@{cue.start:.2f}-{cue.end:.2f}")


_TS = r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})"


def _ts(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def read_transcript(path: PathLike, audio_path: PathLike | None = None) -> list[Cue] | list[str]:
    """Read a transcript for a long recording.

    Understands SubRip (.srt) and WebVTT (.vtt) subtitles, Audacity label files
    (``start<TAB>end<TAB>text`` per line), and plain text (one utterance per line,
    returned as strings to be matched to VAD segments in order).
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"Transcript {p} does not exist.")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p} is not UTF-8 text ({exc}).") from exc
    cue_re = re.compile(_TS + r"\s*-->\s*" + _TS)
    if cue_re.search(text):
        cues = []
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
            lines = block.strip().splitlines()
            for i, line in enumerate(lines):
                m = cue_re.search(line)
                if m:
                    body = " ".join(re.sub(r"<[^>]+>", "", x).strip() for x in lines[i + 1 :])
                    if body.strip():
                        g = m.groups()
                        cues.append(Cue(_ts(*g[:4]), _ts(*g[4:]), " ".join(body.split())))
                    break
        return cues
    rows = [ln for ln in text.splitlines() if ln.strip()]
    label_re = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(.+)$")
    if rows and all(label_re.match(r) for r in rows):
        out = []
        for r in rows:
            m = label_re.match(r)
            assert m is not None
            out.append(Cue(float(m.group(1)), float(m.group(2)), " ".join(m.group(3).split())))
        return out
    return [" ".join(r.split()) for r in rows]


def cues_for(path: PathLike, transcript: PathLike | None, samples_rate: tuple[np.ndarray, int] | None = None) -> list[Cue] | None:
    """Cues for a long recording: from timed transcripts directly, or plain lines matched to VAD pieces."""
    if transcript is None:
        return None
    got = read_transcript(transcript)
    if not got or isinstance(got[0], Cue):
        return got  # type: ignore[return-value]
    from .vad import split_long_recording

    if samples_rate is None:
        data, rate = read_audio(path)
        samples_rate = (data.mean(axis=1), rate)
    samples, rate = samples_rate
    spans = split_long_recording(samples, rate, max_len=15.0)
    if len(spans) != len(got):
        raise UsageError(
            f"{transcript} has {len(got)} lines but {path} splits into {len(spans)} utterances at its pauses, "
            "so the lines cannot be matched safely. Give timed text instead: subtitles (.srt/.vtt) or an "
            "Audacity label file (start, end, text per line), or import without a transcript."
        )
    return [Cue(s, e, str(t)) for (s, e), t in zip(spans, got)]
