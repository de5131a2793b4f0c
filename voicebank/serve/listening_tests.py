"""The listening tests the server offers: `train eval` folders read into held-out sentences, real takes and voices to compare.

A test is one voice's evaluation folder. Its comparisons are the voice itself, the stock
voice (the evaluation's baseline) and the previous voice (the latest earlier evaluation of
another voice on the same dataset). Audio files are found only inside evaluation folders;
what the page sees are ids, never paths.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import voices_dir
from ..durable import read_json_dict
from ..errors import VoicebankError
from .settings import ServeSettings

log = logging.getLogger("voicebank.serve")

COMPARISONS = ("voice", "stock", "previous")
AUDIO_SUFFIXES = (".wav", ".flac")
EVAL_JSON = "eval.json"  # what `voicebank train eval` writes (voicebank.train.eval_result); serve/ never imports training
_WHAT = {"voice": "the trained voice", "stock": "the stock voice", "previous": "the previous voice"}


@dataclass(frozen=True)
class Source:
    """One synthetic side of the trials: which comparison, the voice's name and its file for each sentence."""

    comparison: str  # one of COMPARISONS
    voice: str  # the voice's name (never a path)
    audio: dict[str, Path]  # sentence id -> file inside an evaluation folder

    @property
    def label(self) -> str:
        """How the page names it: "the trained voice (anna)"."""
        return f"{_WHAT[self.comparison]} ({self.voice})"


@dataclass(frozen=True)
class ListeningTest:
    """One evaluation offered as a test: its sentences, the person's real takes and the voices to compare them with."""

    id: str
    folder: Path  # the evaluation folder (the answers go to its listening.jsonl)
    voice: str
    dataset: str  # the dataset folder's name
    dataset_key: str  # the dataset's full path: tests on the same one share held-out sentences (server side only)
    created: str
    texts: dict[str, str]  # sentence id -> text
    real: dict[str, Path]  # sentence id -> the person's recording
    sources: tuple[Source, ...]

    def source(self, comparison: str) -> Source | None:
        return next((s for s in self.sources if s.comparison == comparison), None)

    def summary(self) -> dict[str, Any]:
        """What the page lists (no paths)."""
        return {
            "id": self.id, "voice": self.voice, "dataset": self.dataset, "created": self.created,
            "sentences": len(self.real),
            "comparisons": [{"comparison": s.comparison, "voice": s.voice, "label": s.label,
                             "sentences": len(s.audio)} for s in self.sources],
        }


def eval_folders(settings: ServeSettings) -> list[Path]:
    """The evaluation folders to offer: ``--eval`` ones, else every voice's ``eval/`` that holds an eval.json."""
    if settings.evaluations:
        return [p.parent if p.name == EVAL_JSON else p for p in settings.evaluations]
    try:
        return sorted(p.parent for p in voices_dir().glob(f"*/eval/{EVAL_JSON}"))
    except OSError:
        return []


def offered_tests(settings: ServeSettings) -> dict[str, ListeningTest]:
    """Every usable test by id; a folder that cannot be read is left out (and logged)."""
    read: list[tuple[ListeningTest, str | None]] = []
    for folder in eval_folders(settings):
        try:
            read.append(_read_test(folder))
        except (OSError, VoicebankError, ValueError, TypeError, KeyError) as exc:
            log.warning("listening test: %s is left out: %s", folder, exc)
    tests = [_with_previous(t, read) for t, _ in read]
    return {t.id: t for t in tests if t.real and t.sources}


def _read_test(folder: Path) -> tuple[ListeningTest, str | None]:
    """The test of one folder (its voice and stock voice only) and its baseline's voice name."""
    folder = folder.resolve()
    data = read_json_dict(folder / EVAL_JSON, what="evaluation")
    if not data:
        raise FileNotFoundError(f"no {EVAL_JSON} in it")
    voice = _name(data.get("voice")) or folder.parent.name
    real = _files(folder, _dict(data.get("real")).get("utterances"))
    texts = {row["id"]: str(row.get("text") or "") for row in _rows(data.get("utterances")) if row["id"] in real}
    sources = [Source("voice", voice, _files(folder, data.get("utterances"), only=real))]
    baseline = _dict(data.get("baseline"))
    stock = _name(baseline.get("voice"))
    if stock:
        sources.append(Source("stock", stock, _files(folder, baseline.get("utterances"), only=real)))
    dataset = str(data.get("dataset") or "")
    test = ListeningTest(
        id=_test_id(voice, folder), folder=folder, voice=voice, dataset=_name(dataset) or "?",
        dataset_key=dataset, created=str(data.get("created") or ""), texts=texts, real=real,
        sources=tuple(s for s in sources if s.audio),
    )
    return test, stock


def _with_previous(test: ListeningTest, read: list[tuple[ListeningTest, str | None]]) -> ListeningTest:
    """``test`` with the previous voice added: the latest earlier evaluation of another voice on the same dataset."""
    stock = next((s for t, s in read if t is test), None)
    earlier = [
        t for t, _ in read
        if t is not test and t.dataset_key and t.dataset_key == test.dataset_key
        and t.voice not in (test.voice, stock) and (t.created, str(t.folder)) < (test.created, str(test.folder))
    ]
    for prev in sorted(earlier, key=lambda t: (t.created, str(t.folder)), reverse=True):
        own = prev.source("voice")
        shared = {k: p for k, p in own.audio.items() if k in test.real} if own else {}
        if shared:
            return replace(test, sources=(*test.sources, Source("previous", prev.voice, shared)))
    return test


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)] if isinstance(rows, list) else []


def _files(folder: Path, rows: Any, only: dict[str, Path] | None = None) -> dict[str, Path]:
    """Sentence id -> audio file, for the rows whose ``audio`` names a file inside ``folder``."""
    found = {}
    for row in _rows(rows):
        if only is not None and row["id"] not in only:
            continue
        path = _inside(folder, row.get("audio"))
        if path is not None:
            found[row["id"]] = path
    return found


def _inside(folder: Path, relative: Any) -> Path | None:
    """``folder/relative`` when it is an audio file inside ``folder`` (eval.json is not trusted to stay in it)."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    try:
        path = (folder / relative).resolve()
        return path if path.is_relative_to(folder) and path.suffix.lower() in AUDIO_SUFFIXES and path.is_file() else None
    except (OSError, ValueError):
        return None


def _name(label: Any) -> str:
    """A voice's or dataset's name from the label eval.json holds (often a full path): its last part."""
    return Path(str(label)).name if label else ""


def _test_id(voice: str, folder: Path) -> str:
    """A short id that stays the same for a folder: the voice's name and a hash of the folder's path."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", voice).strip("-.")[:40] or "voice"
    return f"{slug}-{hashlib.sha256(str(folder).encode('utf-8')).hexdigest()[:8]}"
