"""Reading what is left of a damaged bank's records: a cut-off or altered manifest, a journal with bad lines.

The strict readers (:func:`.state.load_manifest`, :func:`.journal.read`) refuse damage so
that nothing is ever written on top of it. These readers keep every record that is still
whole and name each piece of damage instead; only read-only views and salvage use them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import BankCorruptError
from . import journal
from .layout import FORMAT_NAME, SCHEMA_VERSION, damaged_advice

_SCALARS = ("bank_id", "created", "speaker", "script", "language", "seq")
_TAKE_KEYS = {"id", "prompt_id", "file", "sha256"}
_PROMPT_KEYS = {"id", "text", "kind"}
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|null)')


def empty_meta() -> dict[str, Any]:
    """The records of a bank of which nothing could be read."""
    return {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "seq": 0,
            "prompts": [], "takes": [], "chosen": {}, "flags": {}}


def read_manifest(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest's records as far as they are whole, and what is damaged (empty when nothing is)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return empty_meta(), [f"{path} is missing: the records of takes made before its last rewrite are lost"]
    except OSError as exc:
        return empty_meta(), [f"{path} cannot be read ({exc.strerror or exc})"]
    try:
        meta = json.loads(text)
        if isinstance(meta, dict) and meta.get("format") == FORMAT_NAME:
            version = meta.get("schema_version")
            if isinstance(version, int) and version > SCHEMA_VERSION:  # whole, but newer: never guess at it
                raise BankCorruptError(
                    f"{path} has schema version {version}; this voicebank reads up to {SCHEMA_VERSION}. Update voicebank."
                )
            return meta, []
        where = "it is not a voicebank manifest"
    except ValueError as exc:
        where = f"it is cut off or altered at byte {exc.pos}" if hasattr(exc, "pos") else "it is not valid JSON"
    meta = _scan(text)
    return meta, [
        f"{path} is damaged ({where}); {len(meta['prompts'])} prompt and {len(meta['takes'])} take "
        "records were read from its intact parts"
    ]


def _scan(text: str) -> dict[str, Any]:
    """Every whole record in a damaged manifest's text, and the scalar fields that survive."""
    dec = json.JSONDecoder()
    meta = empty_meta()
    for key in _SCALARS:
        m = re.search(rf'"{key}"\s*:\s*', text)
        if m:
            try:
                meta[key] = dec.raw_decode(text, m.end())[0]
            except ValueError:
                pass
    for key in ("chosen", "flags"):
        m = re.search(rf'"{key}"\s*:\s*\{{', text)
        if m:
            end = text.find("}", m.end())
            body = text[m.end() : end if end >= 0 else len(text)]
            meta[key] = {json.loads(f'"{k}"'): json.loads(v) for k, v in _PAIR.findall(body) if v != "null"}
    pos = text.find("{", 1)
    while pos >= 0:
        try:
            obj, end = dec.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and _TAKE_KEYS <= obj.keys():
            meta["takes"].append(obj)
        elif isinstance(obj, dict) and _PROMPT_KEYS <= obj.keys():
            meta["prompts"].append(obj)
        else:
            end = pos + 1  # a container: look inside it
        pos = text.find("{", end)
    if not isinstance(meta.get("seq"), int):
        meta["seq"] = 0
    return meta


def read_journal(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every intact journal entry, skipping damaged lines, and a note of each damaged line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], [f"{path} is missing: changes made since the manifest was last rewritten are lost"]
    except OSError as exc:
        return [], [f"{path} cannot be read ({exc.strerror or exc})"]
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    pos = 0
    for n, line in enumerate(data.split(b"\n"), 1):
        start, pos = pos, pos + len(line) + 1
        if not line.strip():
            continue
        entry = journal.decode(line)
        if entry is not None:
            entries.append(entry)
        elif pos <= len(data):  # a cut-off last line is an interrupted write, not damage
            problems.append(f"{path} line {n} (byte {start}) is damaged: that change is lost")
    return entries, problems


def describe(problems: list[str], root: Path) -> str:
    """One message for a damaged bank: what is damaged, what still works, how to rebuild."""
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return f"The bank {root} is damaged: {shown}. " + damaged_advice(root)
