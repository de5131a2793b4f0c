"""The HTTPS certificate of ``voicebank serve --lan``: a local CA and a server certificate it signs, kept in the data folder.

Browsers give microphones and AudioWorklets only to secure pages, so a tablet needs HTTPS
and a certificate it trusts: the user installs the CA certificate once, and the server
certificate is made again (signed by the same CA) when the computer's addresses change.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
from pathlib import Path

from ..config import data_home
from ..durable import atomic_write, storage_error
from .settings import TlsFiles

FOLDER = "serve-tls"
CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a server certificate
RENEW_DAYS = 30  # make the server certificate again when it has less left than this

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def tls_folder() -> Path:
    return data_home() / FOLDER


def lan_addresses() -> list[str]:
    """This computer's IPv4 addresses other devices can reach (no loopback), found without sending anything."""
    found: set[str] = set()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # the address a packet to the network would leave from (connect on UDP sends nothing)
        probe.connect(("192.0.2.1", 9))
        found.add(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(a for a in found if not ipaddress.ip_address(a).is_loopback)


def host_names() -> list[str]:
    """The names the certificate holds: the host name, its ``.local`` name (mDNS) and localhost."""
    host = socket.gethostname().split(".")[0].lower()
    return [n for n in dict.fromkeys([host, f"{host}.local", "localhost"]) if n]


def ensure_certificate(folder: Path | None = None, addresses: list[str] | None = None) -> TlsFiles:
    """The CA and server certificate in ``folder`` (default: the data folder's ``serve-tls``), made or renewed as needed.

    The CA is made once (its key readable only by the user); the server certificate is made
    again when this computer's addresses or names differ from the ones it holds, or it nears its end.
    """
    folder = folder or tls_folder()
    ips = sorted(set(addresses if addresses is not None else lan_addresses()) | {"127.0.0.1"})
    names = host_names()
    files = TlsFiles(cert=folder / "server.pem", key=folder / "server-key.pem", ca_cert=folder / "ca.pem")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    ca_key_path = folder / "ca-key.pem"
    if not (files.ca_cert.exists() and ca_key_path.exists()):
        _make_ca(files.ca_cert, ca_key_path)
    if not _still_good(files, ips, names):
        _make_server_cert(files, ca_key_path, ips, names)
    return files


def _still_good(files: TlsFiles, ips: list[str], names: list[str]) -> bool:
    if not (files.cert.exists() and files.key.exists()):
        return False
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    if cert.issuer != ca.subject:
        return False  # the CA was made again: its old certificates are no longer trusted
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    held = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    left = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return held == set(ips) and set(san.get_values_for_type(x509.DNSName)) == set(names) and left.days > RENEW_DAYS


def _make_ca(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"voicebank on {host_names()[0]}"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "voicebank (this computer only)"),
    ])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    atomic_write(key_path, pem_key, mode=0o600)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _make_server_cert(files: TlsFiles, ca_key_path: Path, ips: list[str], names: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    atomic_write(files.key, pem_key, mode=0o600)
    atomic_write(files.cert, cert.public_bytes(serialization.Encoding.PEM))


def _usage(cert_sign: bool):  # type: ignore[no-untyped-def]
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def fingerprint(path: Path) -> str:
    """The SHA-256 fingerprint of a PEM certificate, as devices show it (AA:BB:...)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


__all__ = ["ensure_certificate", "fingerprint", "host_names", "lan_addresses", "tls_folder"]
