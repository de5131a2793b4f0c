"""Prompts, takes and their audio in a bank: adding prompts, storing takes durably, choosing and marking them."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, audio_info, check_wav_size, read_audio
from ..durable import atomic_write, fsync_dir, storage_error
from ..errors import AudioFormatError, BankError, UsageError
from .layout import AUDIO_EXT, TAKES_DIR, need_room, utc_now
from .records import PROMPT_FLAGS, PROMPT_KINDS, TAKE_STATUSES, PromptRecord, TakeRecord, safe_id
from .state import BankState

_ID_PREFIX = {"script": "s", "message": "m", "imported": "i"}


def storage_subtype(subtype: str) -> str:
    """The FLAC subtype that keeps a source lossless: 16-bit stays 16, anything finer becomes 24."""
    if subtype in ("PCM_S8", "PCM_U8", "ULAW", "ALAW") or subtype.startswith("DPCM_8"):
        raise AudioFormatError(
            "8-bit audio is too coarse for a voice bank. Record or export the file at 16-bit or better."
        )
    return "PCM_16" if subtype == "PCM_16" else "PCM_24"


NOTE_PREFIX = "voicebank-take "  # the FLAC comment that carries a take's provenance inside its own file


def encode_flac(samples: np.ndarray, sample_rate: int, subtype: str, note: dict[str, Any] | None = None) -> bytes:
    """FLAC bytes of ``samples``; ``note`` (JSON) goes into the file's comment, so a take adopted
    after a crash between its file and its journal line keeps where it came from."""
    import soundfile as sf

    buf = io.BytesIO()
    channels = 1 if samples.ndim == 1 else int(samples.shape[1])
    with sf.SoundFile(buf, "w", samplerate=int(sample_rate), channels=channels, format="FLAC", subtype=subtype) as f:
        if note:
            f.comment = NOTE_PREFIX + json.dumps(note, sort_keys=True)
        f.write(samples)
    return buf.getvalue()


def read_take_note(path: PathLike) -> dict[str, Any]:
    """The provenance a take's file carries (see :func:`encode_flac`); empty when it has none or it is unreadable."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            comment = f.comment or ""
        note = json.loads(comment[len(NOTE_PREFIX):]) if comment.startswith(NOTE_PREFIX) else {}
    except (RuntimeError, OSError, ValueError):  # libsndfile's errors are RuntimeError; bad JSON ValueError
        return {}
    return note if isinstance(note, dict) else {}


def check_take_file(path: PathLike) -> None:
    """Refuse files a bank must not take as-is: unreadable, truncated, empty, 8-bit."""
    info = audio_info(path)
    check_wav_size(path)
    storage_subtype(info.subtype)


def _checked_samples(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.size == 0 or samples.shape[0] == 0:
        raise AudioFormatError("The take holds no audio; nothing was saved.")
    if not np.all(np.isfinite(samples)):
        raise AudioFormatError("The take holds invalid samples (NaN or infinity); nothing was saved.")
    return samples


class BankTakes(BankState):
    """The bank's prompts and takes: each take's audio is on disk, fsynced, before its journal line."""

    def add_prompt(self, text: str, *, kind: str = "script", prompt_id: str | None = None) -> PromptRecord:
        """Register a prompt (or return the existing one with this id and text)."""
        if kind not in PROMPT_KINDS:
            raise UsageError(f"Unknown prompt kind {kind!r}; use one of {', '.join(PROMPT_KINDS)}.")
        text = " ".join(text.split())
        if not text and kind != "imported":  # untranscribed imports keep their audio
            raise UsageError("A prompt needs some text.")
        pid = safe_id(prompt_id if prompt_id is not None else self._new_prompt_id(kind))
        existing = self.prompts.get(pid)
        if existing is not None:
            if existing.text != text:
                raise BankError(f"Prompt {pid} already exists with a different text: {existing.text!r}.")
            return existing
        rec = PromptRecord(pid, text, kind)
        self._commit({"op": "prompt", "prompt": rec.to_dict()})
        return rec

    def _new_prompt_id(self, kind: str) -> str:
        n = 1 + sum(1 for p in self.prompts.values() if p.kind == kind)
        while f"{_ID_PREFIX[kind]}{n:04d}" in self.prompts:
            n += 1
        return f"{_ID_PREFIX[kind]}{n:04d}"

    def flag_prompt(self, prompt_id: str, flag: str | None) -> None:
        """Mark a prompt ``skipped`` or ``later`` (or clear the mark with None)."""
        if flag is not None and flag not in PROMPT_FLAGS:
            raise UsageError(f"Unknown flag {flag!r}; use one of {', '.join(PROMPT_FLAGS)}.")
        self._commit({"op": "flag", "prompt_id": prompt_id, "flag": flag})

    def takes_for(self, prompt_id: str) -> list[TakeRecord]:
        return [t for t in self.takes.values() if t.prompt_id == prompt_id]

    def chosen_take(self, prompt_id: str) -> TakeRecord | None:
        tid = self.chosen.get(prompt_id)
        return self.takes.get(tid) if tid else None

    def take_path(self, take: TakeRecord) -> Path:
        return self.root / take.file

    def read_take(self, take: TakeRecord) -> tuple[np.ndarray, int]:
        """The take's samples (float32, (frames, channels)) and rate."""
        return read_audio(self.take_path(take))

    def _new_take_id(self, prompt_id: str) -> str:
        n = len(self.takes_for(prompt_id)) + 1
        while True:
            tid = f"{prompt_id}.t{n:02d}"
            if tid not in self.takes and not (self.root / TAKES_DIR / prompt_id / f"{tid}{AUDIO_EXT}").exists():
                return tid
            n += 1

    def save_take(
        self,
        prompt_id: str,
        samples: np.ndarray,
        sample_rate: int,
        *,
        subtype: str = "PCM_24",
        qc: dict[str, Any] | None = None,
        status: str = "pending",
        choose: bool = False,
        source: str = "",
        recorded_at: str | None = None,
        recovered: bool = False,
        capture: dict[str, Any] | None = None,
    ) -> TakeRecord:
        """Store one take durably and return its record (only once it is safe on disk).

        ``samples`` is float32 ``(frames,)`` or ``(frames, channels)`` in [-1, 1].
        """
        self._require_writable()
        prompt = self.prompts.get(prompt_id)
        if prompt is None:
            raise UsageError(f"There is no prompt {prompt_id!r} in this bank; add the prompt first.")
        if status not in TAKE_STATUSES:
            raise UsageError(f"Unknown take status {status!r}.")
        samples = _checked_samples(samples)
        recorded_at = recorded_at or utc_now()
        note = {"source": source, "capture": capture or {}, "recorded_at": recorded_at}
        data = encode_flac(samples, sample_rate, storage_subtype(subtype), note)
        tid = self._new_take_id(prompt.id)
        rel = f"{TAKES_DIR}/{prompt.id}/{tid}{AUDIO_EXT}"
        self._write_audio(self.root / rel, data)
        rec = TakeRecord(
            id=tid,
            prompt_id=prompt.id,
            text=prompt.text,
            file=rel,
            sha256=hashlib.sha256(data).hexdigest(),
            sample_rate=int(sample_rate),
            channels=1 if samples.ndim == 1 else int(samples.shape[1]),
            subtype=storage_subtype(subtype),
            frames=int(samples.shape[0]),
            recorded_at=recorded_at,
            status=status,
            source=source,
            recovered=recovered,
            qc=qc or {},
            capture=capture or {},
        )
        self._commit_take(rec)
        if choose:
            self.choose(tid)
        return rec

    def store_take_bytes(self, rec: TakeRecord, data: bytes) -> TakeRecord:
        """Store already-encoded take audio byte for byte under ``rec``'s ids (salvage keeps every bit).

        The file goes to ``takes/<prompt>/<take>.flac`` whatever ``rec.file`` said, and the
        sha256 recorded is the one of ``data``.
        """
        self._require_writable()
        if rec.prompt_id not in self.prompts:
            raise UsageError(f"There is no prompt {rec.prompt_id!r} in this bank; add the prompt first.")
        if safe_id(rec.id) != rec.id or rec.id in self.takes:
            raise BankError(f"A take cannot be stored as {rec.id!r}: the id is taken or not a plain name.")
        rel = f"{TAKES_DIR}/{rec.prompt_id}/{rec.id}{AUDIO_EXT}"
        rec = dataclasses.replace(rec, file=rel, sha256=hashlib.sha256(data).hexdigest())
        self._write_audio(self.root / rel, data)
        self._commit_take(rec)
        return rec

    def _commit_take(self, rec: TakeRecord) -> None:
        """The take's journal line; when it cannot be written (a full disk) its file goes too.

        The take was never reported saved, and a file without its line would read as a
        stray the next time the bank is verified.
        """
        try:
            self._commit({"op": "take", "take": rec.to_dict()})
        except OSError:
            with contextlib.suppress(OSError):
                (self.root / rec.file).unlink()
                fsync_dir((self.root / rec.file).parent)
            raise

    def _write_audio(self, path: Path, data: bytes) -> None:
        """The take's file, durable before its journal line (a kill between them is adopted on open)."""
        folder = path.parent
        need_room(folder if folder.exists() else self.root, len(data), "the take")
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise storage_error(exc, folder, action="create", what="the take's folder") from exc
            fsync_dir(folder.parent)
        atomic_write(path, data, faults=True)

    def transcribe(self, take_id: str, text: str) -> TakeRecord:
        """Give a take the words it says (an untranscribed import, or a reading that strayed from its prompt).

        An imported take's prompt takes the same words; a script prompt keeps the script's.
        """
        if take_id not in self.takes:
            raise UsageError(f"There is no take {take_id!r} in this bank (see: voicebank bank takes {self.root}).")
        words = " ".join(text.split())
        if not words:
            raise UsageError("Give the words that are said in the take.")
        self._commit({"op": "text", "take_id": take_id, "text": words})
        return self.takes[take_id]

    def set_status(self, take_id: str, status: str) -> None:
        if take_id not in self.takes:
            raise UsageError(f"There is no take {take_id!r} in this bank.")
        if status not in TAKE_STATUSES:
            raise UsageError(f"Unknown take status {status!r}; use one of {', '.join(TAKE_STATUSES)}.")
        self._commit({"op": "status", "take_id": take_id, "status": status})

    def choose(self, take_id: str) -> None:
        """Mark a take as the one to use for its prompt (the others are kept)."""
        take = self.takes.get(take_id)
        if take is None:
            raise UsageError(f"There is no take {take_id!r} in this bank.")
        self._commit({"op": "choose", "prompt_id": take.prompt_id, "take_id": take_id})

    def unchoose(self, prompt_id: str) -> None:
        self._commit({"op": "choose", "prompt_id": prompt_id, "take_id": None})
