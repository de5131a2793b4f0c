"""What an open bank holds in memory, and how each change becomes durable: the manifest snapshot and the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..durable import atomic_write
from ..errors import BankCorruptError, BankError, UsageError
from . import journal
from .layout import FORMAT_NAME, JOURNAL, MANIFEST, SCHEMA_VERSION, damaged_advice, utc_now
from .records import PromptRecord, TakeRecord

_RECORD_KEYS = ("prompts", "takes", "chosen", "flags", "seq")


class BankState:
    """The records of one bank (prompts, takes, choices, flags, metadata) and their changes.

    Every change is a journal entry: appended durably first, then applied in memory, so
    what the object says is always what a reopen would find. Not responsible for opening,
    locking or recovery (:mod:`.opening`, :mod:`.recovery`) or for audio (:mod:`.takes`).
    """

    def __init__(self, root: Path, meta: dict[str, Any], *, writable: bool) -> None:
        self.root = root
        self.meta = meta
        self.writable = writable
        self.prompts: dict[str, PromptRecord] = {}
        self.takes: dict[str, TakeRecord] = {}
        self.chosen: dict[str, str] = {}
        self.flags: dict[str, str] = {}
        self.seq = int(meta.get("seq", 0))
        self._journal_entries = 0
        self._lock_fd: int | None = None
        self.damage: list[str] = []  # what a tolerant read-only open found damaged (see BankOpening.open)
        self.lock_note = ""  # why a shared-lock open read without a lock (read-only media)

    def _apply(self, e: dict[str, Any]) -> None:
        op = e.get("op")
        if op == "prompt":
            rec = PromptRecord.from_dict(e["prompt"])
            self.prompts[rec.id] = rec
        elif op == "take":
            rec = TakeRecord.from_dict(e["take"])
            self.takes[rec.id] = rec
        elif op == "status":
            t = self.takes[e["take_id"]]
            self.takes[t.id] = _replace(t, status=e["status"])
        elif op == "text":
            t = self.takes[e["take_id"]]
            self.takes[t.id] = _replace(t, text=e["text"])
            p = self.prompts.get(t.prompt_id)
            if p is not None and p.kind == "imported":  # an import's prompt is its transcript
                self.prompts[p.id] = PromptRecord(p.id, e["text"], p.kind)
        elif op == "choose":
            if e.get("take_id"):
                self.chosen[e["prompt_id"]] = e["take_id"]
            else:
                self.chosen.pop(e["prompt_id"], None)
        elif op == "flag":
            if e.get("flag"):
                self.flags[e["prompt_id"]] = e["flag"]
            else:
                self.flags.pop(e["prompt_id"], None)
        elif op == "meta":
            self.meta[e["key"]] = e["value"]
        else:
            raise BankCorruptError(f"The journal holds an unknown change {op!r}; this bank needs a newer voicebank.")

    def _commit(self, entry: dict[str, Any]) -> None:
        self._require_writable()
        entry = dict(entry, seq=self.seq + 1, at=utc_now())
        journal.append(self.root / JOURNAL, entry)
        self._apply(entry)
        self.seq = entry["seq"]
        self._journal_entries += 1

    def _require_writable(self) -> None:
        if not self.writable:
            raise BankError("This bank was opened read-only.")
        if self.damage:
            raise BankError("A damaged bank is never changed; rebuild it with 'voicebank bank salvage'.")

    def set_meta(self, key: str, value: Any) -> None:
        if key in (*_RECORD_KEYS, "format", "schema_version", "bank_id"):
            raise UsageError(f"{key!r} cannot be changed this way.")
        self._commit({"op": "meta", "key": key, "value": value})

    def compact(self) -> None:
        """Fold the journal into a new manifest snapshot and start an empty journal.

        Safe at every point: the snapshot carries the last folded ``seq``, and replay
        skips journal entries at or below it.
        """
        self._require_writable()
        meta = self._snapshot()
        atomic_write(self.root / MANIFEST, dump_manifest(meta))
        self.meta = meta
        atomic_write(self.root / JOURNAL, b"")
        self._journal_entries = 0

    def _snapshot(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.meta.items() if k not in _RECORD_KEYS}
        meta["seq"] = self.seq
        meta["prompts"] = [p.to_dict() for p in self.prompts.values()]
        meta["takes"] = [t.to_dict() for t in self.takes.values()]
        meta["chosen"] = dict(self.chosen)
        meta["flags"] = dict(self.flags)
        return meta


def _replace(t: TakeRecord, **changes: Any) -> TakeRecord:
    d = t.to_dict()
    d.update(changes)
    return TakeRecord.from_dict(d)


def dump_manifest(meta: dict[str, Any]) -> bytes:
    return (json.dumps(meta, indent=1, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def load_manifest(path: Path) -> dict[str, Any]:
    """The manifest's snapshot; damage or a newer schema is a :class:`BankCorruptError` saying what is safe."""
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BankCorruptError(
            f"{path} is damaged and cannot be read ({exc}). " + damaged_advice(path.parent)
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise BankCorruptError(f"{path} is not a voicebank manifest.")
    version = meta.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise BankCorruptError(
            f"{path} has schema version {version!r}; this voicebank reads up to {SCHEMA_VERSION}. Update voicebank."
        )
    return meta
