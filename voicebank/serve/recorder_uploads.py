"""A take uploaded by the recorder page: its body read within the limit, checked (checksum, format, length) before the bank sees it.

Every refusal is a :class:`RequestError` with its HTTP status and a ``code`` the page can act
on; nothing here touches a bank.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np
from starlette.requests import Request

from ..bank.takes import storage_subtype
from ..errors import AudioFormatError, RequestError

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")
SOURCE = "browser"  # a take's source is "browser:<upload id>"
_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")  # what the contract takes: no 8-bit, no lossy or companded codes
_MAX_CAPTURE = 4096  # bytes of the X-Capture header
_MIN_RATE, _MAX_RATE = 8000, 384000


@dataclass(frozen=True)
class Upload:
    """A checked take: its samples (float32, ``(frames,)`` or ``(frames, channels)``), rate, and what the page said about it."""

    upload_id: str
    prompt_id: str
    sha256: str
    samples: np.ndarray
    sample_rate: int
    capture: dict[str, Any]  # kept in the take's record


def storable(text: str) -> bool:
    """Whether a client's string can go into a bank's records (JSON allows lone surrogates; UTF-8 does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_id(upload_id: str) -> str:
    if not UPLOAD_ID.fullmatch(upload_id):
        raise RequestError("The upload id must be 16-64 characters of A-Z, a-z, 0-9, '_' and '-', chosen once per take.",
                           param="upload_id", code="invalid_upload_id")
    return upload_id


def check_headers(request: Request) -> tuple[str, str, dict[str, Any]]:
    """The prompt id, the body's announced sha256 and the capture settings, from the request's headers."""
    prompt_id = request.headers.get("x-prompt-id", "").strip()
    if not prompt_id or len(prompt_id) > 200:
        raise RequestError("Say which prompt the take reads in the X-Prompt-Id header.", param="X-Prompt-Id")
    sha = request.headers.get("x-content-sha256", "").strip().lower()
    if not SHA256.fullmatch(sha):
        raise RequestError("Send the body's sha256 (64 hex digits) in the X-Content-SHA256 header.",
                           param="X-Content-SHA256")
    return prompt_id, sha, parse_capture(request.headers.get("x-capture"))


def parse_capture(header: str | None) -> dict[str, Any]:
    """The X-Capture header: a flat JSON object of what ``getSettings()`` read back (strings, numbers, true/false)."""
    if header is None or not header.strip():
        return {}
    bad = RequestError("X-Capture must be a JSON object of at most 4 KB with plain values, as getSettings() gives.",
                       param="X-Capture", code="invalid_capture")
    if len(header) > _MAX_CAPTURE:
        raise bad
    try:
        if header.lstrip()[:3].upper() == "%7B":  # encodeURIComponent(JSON): how a page sends "Anna’s AirPods"
            header = unquote(header, errors="strict")
        data = json.loads(header)
    except ValueError as exc:
        raise bad from exc
    if not isinstance(data, dict) or len(data) > 40:
        raise bad
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "upload" or len(key) > 64 or not (value is None or isinstance(value, (str, int, float, bool))):
            raise bad
        if not storable(key) or (isinstance(value, str) and not storable(value)):
            raise bad
        if isinstance(value, float) and not math.isfinite(value):  # JSON's NaN would not go back out as JSON
            raise bad
        out[key] = value[:300] if isinstance(value, str) else value
    return out


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes (by its Content-Length, before reading)."""
    from .app import _read_body  # the server's one body reader (imported here: app imports this module)

    return await _read_body(request, limit)


def checked_upload(upload_id: str, prompt_id: str, sha: str, capture: dict[str, Any], body: bytes,
                   max_seconds: float) -> Upload:
    """The upload once its checksum, format and length are right; else the refusal the page shows."""
    if hashlib.sha256(body).hexdigest() != sha:
        raise RequestError("The take arrived damaged (its sha256 does not match X-Content-SHA256); send it again.",
                           status=422, code="checksum_mismatch")
    samples, rate, kind, subtype = decode(body, max_seconds)
    info = {"id": upload_id, "sha256": sha, "bytes": len(body), "format": kind, "subtype": subtype}
    return Upload(upload_id, prompt_id, sha, samples, rate, {**capture, "upload": info})


def decode(body: bytes, max_seconds: float) -> tuple[np.ndarray, int, str, str]:
    """Samples, rate, container and sample format of a WAV or FLAC body (checked: whole, not 8-bit, not too long)."""
    import soundfile as sf

    if not body:
        raise _not_audio("The upload is empty (0 bytes): nothing was recorded. Check the microphone and record again.")
    kind = "wav" if body[:4] == b"RIFF" and body[8:12] == b"WAVE" else "flac" if body[:4] == b"fLaC" else None
    if kind is None:
        raise _not_audio("The upload is not a WAV or FLAC file; the recorder sends takes as WAV or FLAC.")
    try:
        info = sf.info(io.BytesIO(body))
    except (RuntimeError, ValueError, sf.SoundFileError) as exc:
        raise _truncated(f"The {kind.upper()} file cannot be read ({exc}); it is damaged or cut short.") from exc
    declared = wav_declared_frames(body) if kind == "wav" else info.frames
    _check_format(info.subtype, info.channels, info.samplerate)
    if declared is not None and declared / info.samplerate > max_seconds:
        raise RequestError(f"The take is {declared / info.samplerate / 60:.0f} minutes long; a take may be at most "
                           f"{max_seconds:.0f} seconds. Record one sentence at a time.", status=413, code="too_long")
    try:
        samples, rate = sf.read(io.BytesIO(body), dtype="float32", always_2d=False)
    except (RuntimeError, ValueError, sf.SoundFileError) as exc:
        raise _truncated(f"The {kind.upper()} file is cut short or damaged ({exc}); send it again.") from exc
    if declared is None or samples.shape[0] < declared:
        raise _truncated(f"The {kind.upper()} file is cut short: it holds {samples.shape[0]} of the "
                         f"{declared if declared is not None else '?'} samples its header announces. Send it again.")
    if samples.shape[0] == 0:
        raise RequestError("The take holds no audio: nothing was recorded.", status=422, code="empty")
    if not np.all(np.isfinite(samples)):
        raise RequestError("The take holds invalid samples (NaN or infinity).", status=422, code="unsupported_format")
    return samples, int(rate), kind, info.subtype


def wav_declared_frames(body: bytes) -> int | None:
    """Frames a WAV's header announces (its data chunk's length over the frame size); None without fmt and data chunks."""
    pos, block = 12, None
    while pos + 8 <= len(body):
        cid, size = body[pos:pos + 4], int.from_bytes(body[pos + 4:pos + 8], "little")
        if cid == b"fmt " and pos + 22 <= len(body):
            block = int.from_bytes(body[pos + 20:pos + 22], "little")  # nBlockAlign: bytes per frame
        elif cid == b"data":
            return size // block if block else None
        pos += 8 + size + (size & 1)
    return None


def _check_format(subtype: str, channels: int, rate: int) -> None:
    try:
        storage_subtype(subtype)  # says plainly why 8-bit is refused
    except AudioFormatError as exc:
        raise RequestError(str(exc), status=422, code="unsupported_format") from exc
    if subtype not in _SUBTYPES or channels not in (1, 2) or not _MIN_RATE <= rate <= _MAX_RATE:
        raise RequestError(f"Takes must be mono or stereo 16/24/32-bit PCM or 32-bit float at {_MIN_RATE}-{_MAX_RATE} Hz; "
                           f"this one is {subtype}, {channels} channel(s), {rate} Hz.", status=422, code="unsupported_format")


def _not_audio(message: str) -> RequestError:
    return RequestError(message, status=415, code="not_audio")


def _truncated(message: str) -> RequestError:
    return RequestError(message, status=422, code="truncated")
