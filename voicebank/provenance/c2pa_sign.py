"""Optional C2PA manifests in finished WAV, FLAC, MP3 and M4A files (``c2pa-python``), signed with a local certificate.

C2PA needs an X.509 chain, not a bare key: on first use a local root (a self-signed ES256 CA)
and a signing certificate issued by it are made under ``data_home()/keys/c2pa/`` (private keys
mode 0600). No public authority has vouched for that root, so a reader elsewhere sees a
well-formed manifest from an untrusted signer; here :func:`read_c2pa` also compares the signer
with the local certificate. Anything the C2PA library refuses comes back as a sentence, never
as a crash of ``verify``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..config import data_home
from ..durable import atomic_output, atomic_write
from ..errors import MissingDependencyError
from .tags import ProvenanceInfo

FORMATS = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".m4b": "audio/mp4"}
ASSERTION = "com.voicebank.provenance"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass(frozen=True)
class C2paCheck:
    """A C2PA manifest's verdict: ``none`` (no manifest), ``valid``, ``invalid``, or ``unavailable`` (why in detail)."""

    verdict: str
    detail: str = ""
    info: ProvenanceInfo | None = None


def cert_folder() -> Path:
    return data_home() / "keys" / "c2pa"


def sign_c2pa(path: str | os.PathLike[str], info: ProvenanceInfo) -> str:
    """Embed a signed C2PA manifest in ``path`` (in place, atomically); return "signed" or why not."""
    path = Path(path)
    mime = FORMATS.get(path.suffix.lower())
    if mime is None:
        return f"C2PA not available for this file: {path.suffix or 'no extension'} is not one of {', '.join(FORMATS)}"
    try:
        c2pa = _c2pa()
        chain, key = _credentials()
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
        builder = c2pa.Builder(json.dumps(_manifest(info)))
        with atomic_output(path) as tmp, open(path, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
            shutil.copymode(path, tmp)
    except MissingDependencyError as exc:
        return f"C2PA not available for this file: {exc}"
    except Exception as exc:  # the native library raises its own error types for refusals
        return f"C2PA not available for this file: {type(exc).__name__}: {exc}"
    return "signed"


def read_c2pa(path: str | os.PathLike[str]) -> C2paCheck:
    """The C2PA verdict of ``path``: none, valid, invalid (with the failed checks) or unavailable (why)."""
    path = Path(path)
    mime = FORMATS.get(path.suffix.lower())
    if mime is None:
        return C2paCheck("none", f"C2PA is not read from {path.suffix or 'extensionless'} files")
    try:
        c2pa = _c2pa()
        with open(path, "rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh)
            if reader is None:
                return C2paCheck("none")
            store = json.loads(reader.json())
            state = reader.get_validation_state() or ""
    except MissingDependencyError as exc:
        return C2paCheck("unavailable", f"C2PA not available for this file: {exc}")
    except Exception as exc:  # a damaged manifest, or a format the library refuses
        return C2paCheck("invalid", f"{type(exc).__name__}: {exc}")
    return _verdict(store, state)


def _verdict(store: dict[str, Any], state: str) -> C2paCheck:
    manifest = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    info = None
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == ASSERTION:
            info = ProvenanceInfo.from_dict(assertion.get("data", {}))
    failures = [s for s in store.get("validation_status", []) or [] if not _only_untrusted(s)]
    signer = manifest.get("signature_info", {})
    issuer = signer.get("issuer", "")
    local = str(signer.get("cert_serial_number", "")) == _local_serial()
    if failures:
        codes = ", ".join(str(s.get("code")) for s in failures)
        return C2paCheck("invalid", f"the manifest does not hold for this file ({codes})", info)
    who = "this machine's local certificate" if local else f"a certificate issued by {issuer or 'an unknown issuer'}"
    return C2paCheck("valid", f"signed by {who} ({state.lower() or 'no trust list'}; no public authority vouches for it)", info)


def _only_untrusted(status: dict[str, Any]) -> bool:
    """A self-signed local chain is reported untrusted: that is expected here, not a failure."""
    return str(status.get("code", "")) in {"signingCredential.untrusted"}


def _manifest(info: ProvenanceInfo) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "voicebank", "version": info.toolkit.rpartition(" ")[2] or "0"}],
        "title": "Synthetic speech",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED,
                                      "softwareAgent": {"name": info.toolkit or "voicebank"}}]},
            },
            {"label": ASSERTION, "data": info.to_dict()},
        ],
    }


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError as exc:
        raise MissingDependencyError("c2pa-python (C2PA manifests)", "trust") from exc
    return c2pa


ROOT_NAME = "voicebank local C2PA root"


def _local_serial() -> str:
    """The serial number of this machine's C2PA signing certificate ("" when none was made)."""
    from cryptography import x509

    chain = cert_folder() / "chain.pem"
    if not chain.is_file():
        return ""
    return str(x509.load_pem_x509_certificates(chain.read_bytes())[0].serial_number)


def _credentials() -> tuple[bytes, bytes]:
    """(certificate chain PEM: signing cert then root, signing key PEM), made once."""
    folder = cert_folder()
    chain, key = folder / "chain.pem", folder / "signing-key.pem"
    if not (chain.is_file() and key.is_file()):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        chain_pem, key_pem = _make_chain()
        atomic_write(key, key_pem, mode=0o600)
        atomic_write(chain, chain_pem)
    return chain.read_bytes(), key.read_bytes()


def _make_chain() -> tuple[bytes, bytes]:
    """A root CA and an end-entity signing certificate (ES256) with the uses C2PA asks for."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(timezone.utc)
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ROOT_NAME),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voicebank (local)")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "voicebank local signer"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voicebank (local)")])

    def base(subject: Any, key: Any, days: int) -> Any:
        return (x509.CertificateBuilder().subject_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=days))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))

    root = (base(root_name, root_key, 3650).issuer_name(root_name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (base(leaf_name, leaf_key, 3650).issuer_name(root_name)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return leaf.public_bytes(pem) + root.public_bytes(pem), key_pem


def _key_usage(*, cert_sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)
