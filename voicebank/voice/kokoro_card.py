"""The instant-voice folder format: a Kokoro-82M style array and its card (``voice.json``).

An instant voice folder::

    VOICE/
      voice.json   the card: {"engine": "kokoro", "schema_version", "name", "language",
                   "style": "style.npy", "style_sha256", "made_from": {...},
                   "search": {...scores, curve, time...}, "licence", "created"}
      style.npy    float32 [510, 256]: one 256-vector per phoneme count (Kokoro picks the
                   row by the length of what it says), as in Kokoro's own voice files

The model itself is not in the folder: every instant voice speaks with the one pinned
Kokoro-82M ONNX (see :mod:`voicebank.engines.kokoro`). No ONNX Runtime here:
:func:`is_kokoro_voice` is cheap enough for voice lookup and listing.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike
from ..durable import atomic_write, atomic_write_json, fsync_dir, move, read_json
from ..errors import CorruptFileError, EngineError, UsageError
from .card import CARD_FILE

VOICE_CARD = "voice.json"
STYLE_FILE = "style.npy"
SCHEMA_VERSION = 1
STYLE_ROWS = 510  # one row per phoneme count 0…509
STYLE_DIM = 256
LICENCE = (
    "Kokoro-82M weights Apache-2.0 (hexgrad/Kokoro-82M; int8 ONNX from thewh1teagle/kokoro-onnx); "
    "the style array is a blend of Kokoro's shipped voices (Apache-2.0) searched by voicebank "
    "to sound like the person's recordings: use it only with their consent."
)
# A style value this far from zero is not a Kokoro style (shipped voices stay within about ±3).
MAX_ABS_STYLE = 50.0


@dataclass(frozen=True)
class KokoroVoice:
    """An instant voice folder as read from disk: its card and its style array."""

    root: Path
    name: str
    language: str
    style: np.ndarray  # float32 [510, 256]
    card: dict[str, Any]

    @staticmethod
    def load(path: PathLike) -> KokoroVoice:
        """Read and check a voice folder; a damaged card or style file is refused with the reason."""
        root = Path(path).expanduser()
        card_path = root / VOICE_CARD
        if not card_path.is_file():
            raise EngineError(f"{root} is not an instant voice: it has no {VOICE_CARD}.")
        try:
            card = read_json(card_path, what="voice card")
        except (CorruptFileError, OSError) as exc:
            raise CorruptFileError(f"The voice card {card_path} cannot be read ({exc}). Make the voice again.") from exc
        if not isinstance(card, dict) or card.get("engine") != "kokoro":
            raise EngineError(f"{card_path} is not an instant voice card (its engine is not 'kokoro').")
        style_path = root / str(card.get("style") or STYLE_FILE)
        try:
            raw = style_path.read_bytes()
        except OSError as exc:
            raise CorruptFileError(
                f"The instant voice {root} has no readable style file ({style_path.name}: {exc}). Make the voice again."
            ) from exc
        want = card.get("style_sha256")
        if want and hashlib.sha256(raw).hexdigest() != want:
            raise CorruptFileError(
                f"{style_path} does not match its card (sha256 differs): the file was damaged or replaced. "
                "Make the voice again with: voicebank train instant DATA --out VOICE"
            )
        style = read_style(io.BytesIO(raw), what=str(style_path))
        return KokoroVoice(
            root=root,
            name=str(card.get("name") or root.name),
            language=str(card.get("language") or "en-us"),
            style=style,
            card=card,
        )


def check_style(array: Any, *, what: str) -> np.ndarray:
    """A Kokoro style array as float32 [510, 256] ([510, 1, 256] is accepted), or a clear error."""
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0, :]
    if arr.shape != (STYLE_ROWS, STYLE_DIM):
        raise CorruptFileError(
            f"{what} is not a Kokoro style array: shape {tuple(arr.shape)}, expected ({STYLE_ROWS}, {STYLE_DIM})."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise CorruptFileError(f"{what} is not a Kokoro style array: it holds {arr.dtype}, not floats.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)) or float(np.max(np.abs(arr))) > MAX_ABS_STYLE:
        raise CorruptFileError(f"{what} holds values no Kokoro style has (NaN, infinite or huge): it is damaged.")
    return arr


def read_style(source: Any, *, what: str) -> np.ndarray:
    """Load a ``.npy`` style array (no pickles) and check it."""
    try:
        arr = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"{what} cannot be read as a style array ({exc}).") from exc
    return check_style(arr, what=what)


def is_kokoro_voice(path: PathLike) -> bool:
    """True for a folder whose ``voice.json`` names the kokoro engine (reads only the small card)."""
    card_path = Path(path).expanduser() / VOICE_CARD
    if not card_path.is_file():
        return False
    try:
        card = read_json(card_path, {}, what="voice card")
    except (CorruptFileError, OSError):
        return False
    return isinstance(card, dict) and card.get("engine") == "kokoro"


def write_voice(
    out: PathLike,
    style: np.ndarray,
    *,
    name: str,
    language: str = "en-us",
    made_from: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a voice folder whole: built beside ``out`` and moved into place, so ``out`` is never half a voice.

    An existing ``out`` is replaced only when it is an instant voice itself (or empty).
    ``card`` is the voice card (:mod:`.card`), written into the folder with the rest.
    """
    out = Path(out).expanduser()
    check_target(out)
    arr = check_style(style, what="the style array")
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    data = buf.getvalue()
    voice_card = {
        "schema_version": SCHEMA_VERSION,
        "engine": "kokoro",
        "name": name,
        "language": language,
        "style": STYLE_FILE,
        "style_sha256": hashlib.sha256(data).hexdigest(),
        "made_from": made_from or {},
        "search": search or {},
        "licence": LICENCE,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        atomic_write(tmp / STYLE_FILE, data)
        atomic_write_json(tmp / VOICE_CARD, voice_card, indent=1)
        if card is not None:
            atomic_write_json(tmp / CARD_FILE, card, indent=2)
        fsync_dir(tmp)
        if out.exists():
            move(out, old)
        move(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            move(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return voice_card


def check_target(out: Path) -> None:
    """Refuse an ``out`` that exists and is something other than an instant voice (or an empty folder)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"{out} is a file; give a folder for the voice.")
    if any(out.iterdir()) and not is_kokoro_voice(out):
        raise UsageError(f"{out} already holds something that is not an instant voice; choose a new folder.")
