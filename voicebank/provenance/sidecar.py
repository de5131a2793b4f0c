"""The signed sidecar ``FILE.provenance.json``: a file's sha256 and provenance, signed with this machine's Ed25519 key.

The key pair is made on first use under the data folder (``keys/provenance-ed25519.pem``,
mode 0600; the public key is derived from it). A sidecar holds the file's name and sha256, the
:class:`~.tags.ProvenanceInfo`, the signer's public key and an Ed25519 signature over all of
that (canonical JSON: sorted keys, no spaces). :func:`check_sidecar` tells whether it is
``valid``, the file changed since signing, the signature is invalid (the sidecar was edited),
or it was signed by a key other than this machine's (anyone can make a key: only the local
one is known here).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..bank.layout import sha256_file
from ..config import data_home
from ..durable import atomic_write, atomic_write_json, partial_path, read_json_dict
from ..errors import CorruptFileError, MissingDependencyError
from .tags import ProvenanceInfo

SUFFIX = ".provenance.json"
SCHEMA_VERSION = 1
KEY_FILE = "provenance-ed25519.pem"

VALID = "valid"
CHANGED = "file changed since signing"
BAD_SIGNATURE = "signature invalid"
UNKNOWN_KEY = "signed by an unknown key"
MISSING = "no sidecar"
DAMAGED = "sidecar damaged"


@dataclass(frozen=True)
class SidecarCheck:
    """What a sidecar says about its file: a verdict (one of the module's constants) and the signed info."""

    verdict: str
    path: Path
    info: ProvenanceInfo | None = None  # only when the signature holds
    signed: str = ""  # when it was signed (ISO 8601 UTC)
    key: str = ""  # the signer's public key, base64
    detail: str = ""


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``path`` lives: next to it, named ``FILE.provenance.json``."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def key_path() -> Path:
    return data_home() / "keys" / KEY_FILE


def public_key_b64() -> str:
    """This machine's provenance public key (raw 32 bytes, base64); made on first use."""
    return _b64(_raw_public(_private_key().public_key()))


def sign_file(path: str | os.PathLike[str], info: ProvenanceInfo) -> Path:
    """Write (atomically) the signed sidecar of ``path``; return its path."""
    path = Path(path)
    key = _private_key()
    body = {
        "schema_version": SCHEMA_VERSION,
        "file": path.name,
        "sha256": sha256_file(path),
        "provenance": info.to_dict(),
        "signed": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "public_key": _b64(_raw_public(key.public_key())),
        "algorithm": "Ed25519",
    }
    body["signature"] = _b64(key.sign(_canonical(body)))
    out = sidecar_path(path)
    atomic_write_json(out, body, sort_keys=True)
    return out


def check_sidecar(path: str | os.PathLike[str]) -> SidecarCheck:
    """Check the sidecar of ``path`` against the file and this machine's key."""
    path = Path(path)
    side = sidecar_path(path)
    if not side.is_file():
        return SidecarCheck(MISSING, side)
    try:
        body = read_json_dict(side, what="provenance sidecar")
        signature = base64.b64decode(body.pop("signature"), validate=True)
        public = base64.b64decode(body["public_key"], validate=True)
        info = ProvenanceInfo.from_dict(body["provenance"])
    except (CorruptFileError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return SidecarCheck(DAMAGED, side, detail=f"{type(exc).__name__}: {exc}")
    if not _signature_holds(public, signature, _canonical(body)):
        return SidecarCheck(BAD_SIGNATURE, side, detail="the sidecar was edited after it was signed")
    signed = dict(info=info, signed=str(body.get("signed", "")), key=body["public_key"])
    if body.get("sha256") != sha256_file(path):
        return SidecarCheck(CHANGED, side, detail="the audio's sha256 differs from the one signed", **signed)
    if body["public_key"] != public_key_b64():
        return SidecarCheck(UNKNOWN_KEY, side, detail="a valid signature, but not by this machine's key", **signed)
    return SidecarCheck(VALID, side, **signed)


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise MissingDependencyError("cryptography (signs provenance sidecars)", "trust") from exc
    return ed25519


def _private_key() -> Any:
    """This machine's Ed25519 key, made once (two processes racing both end up with the same one)."""
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    path = key_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = partial_path(path).with_suffix(f".{os.getpid()}")
        atomic_write(tmp, pem, mode=0o600)
        try:
            os.link(tmp, path)  # fails if another process made the key first: keep theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise CorruptFileError(f"The provenance key {path} is damaged ({exc}). Move it away; a new one is made on next use "
                               "(sidecars signed with the old key will then read as signed by an unknown key).") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CorruptFileError(f"The provenance key {path} is not an Ed25519 key. Move it away; a new one is made on next use.")
    return key


def _signature_holds(public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        _crypto().Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _raw_public(public: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
