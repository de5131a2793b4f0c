"""Where base models live: what each known base is, which files make it, where they are looked for.

Two Coqui base models are known:

* ``xtts_v2`` — XTTS-v2 (``tts_models/multilingual/multi-dataset/xtts_v2``): zero-shot
  cloning from a few clips, and the starting point of an XTTS fine-tune. Its weights are
  under the **Coqui Public Model License (non-commercial use only)**.
* ``vits`` — Coqui's LJSpeech VITS (``tts_models/en/ljspeech/vits``), a starting point for
  VITS fine-tuning (licence per its model card: Apache 2.0 in Coqui's model list).

A base is looked for, in this order (the first complete folder wins):

1. the folder given explicitly (``--base FOLDER``) — only there, when given;
2. ``data_home()/base_models/<name>/`` (voicebank's own folder, where ``voicebank train base
   download`` puts a base; put files here by hand too);
3. Coqui's download folder (a base Coqui itself downloaded earlier): ``$TTS_HOME/tts``, else ``$XDG_DATA_HOME/tts``, else
   ``~/.local/share/tts`` (``~/Library/Application Support/tts`` on macOS), then
   ``<type>--<language>--<dataset>--<model>/``, as ``TTS.utils.manage.ModelManager`` writes it;
4. for XTTS-v2, the Hugging Face cache where coqui-tts 0.28 itself downloads it
   (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``).

This module only looks at paths (no torch, no Coqui), so engines and the CLI use it
cheaply. Downloading a base is :func:`voicebank.train.base_models.download_base`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import PathLike
from ..config import data_home
from ..errors import BaseModelMissing, UsageError

PURPOSES = ("speak", "train")


@dataclass(frozen=True)
class BaseFile:
    """One file of a base model: a short key, the names it may have, and what needs it."""

    key: str
    names: tuple[str, ...]
    needed_for: tuple[str, ...] = PURPOSES  # "speak", "train"; () = optional

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class BaseSpec:
    """What a base model is, which files make it, where to get it and under what licence."""

    name: str
    title: str
    coqui_name: str
    files: tuple[BaseFile, ...]
    licence: str
    licence_url: str
    licence_note: str
    manual_url: str
    size: str = ""
    hf_repos: tuple[str, ...] = ()  # Hugging Face repositories coqui-tts downloads it from
    aliases: tuple[str, ...] = ()

    @property
    def coqui_folder(self) -> str:
        """The folder name Coqui's ModelManager uses for this model."""
        return self.coqui_name.replace("/", "--")

    def needed(self, purpose: str) -> list[BaseFile]:
        return [f for f in self.files if purpose in f.needed_for]

    def optional(self) -> list[BaseFile]:
        """Files used when present but never required."""
        return [f for f in self.files if not f.needed_for]


XTTS_V2 = BaseSpec(
    name="xtts_v2",
    title="XTTS-v2",
    coqui_name="tts_models/multilingual/multi-dataset/xtts_v2",
    files=(
        BaseFile("model", ("model.pth",)),
        BaseFile("config", ("config.json",)),
        BaseFile("vocab", ("vocab.json",)),
        BaseFile("dvae", ("dvae.pth",), ("train",)),
        BaseFile("mel_stats", ("mel_stats.pth",), ("train",)),
        BaseFile("speakers", ("speakers_xtts.pth",), ()),
    ),
    licence="Coqui Public Model License 1.0.0 (CPML)",
    licence_url="https://tts-hub.github.io/cpml",
    licence_note=(
        "The XTTS-v2 weights, and every voice made from them (zero-shot or fine-tuned), may be used "
        "for non-commercial purposes only."
    ),
    manual_url="https://huggingface.co/coqui/XTTS-v2",
    size="about 1.9 GB",
    hf_repos=("tts-hub/XTTS-v2", "coqui/XTTS-v2"),
    aliases=("xtts-v2", "xtts", "xttsv2", "xtts_v2"),
)

VITS_LJSPEECH = BaseSpec(
    name="vits",
    title="Coqui VITS (LJSpeech)",
    coqui_name="tts_models/en/ljspeech/vits",
    files=(
        BaseFile("model", ("model_file.pth", "model.pth", "checkpoint.pth")),
        BaseFile("config", ("config.json",)),
    ),
    licence="Apache 2.0 (as listed in Coqui's model list; check the model card)",
    licence_url="https://www.apache.org/licenses/LICENSE-2.0",
    licence_note="Trained on LJSpeech (public domain recordings of one female reader).",
    manual_url="https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--ljspeech--vits.zip",
    aliases=("vits", "vits-ljspeech", "ljspeech-vits"),
)

SPECS: dict[str, BaseSpec] = {s.name: s for s in (XTTS_V2, VITS_LJSPEECH)}


@dataclass(frozen=True)
class BaseModel:
    """A base model found complete on disk."""

    spec: BaseSpec
    path: Path
    source: str  # "given", "voicebank", "coqui", "huggingface"
    files: dict[str, Path] = field(default_factory=dict)  # key -> path of every file present

    def file(self, key: str) -> Path:
        """The path of one file by key (``model``, ``config``, ``vocab``, ``dvae`` …)."""
        try:
            return self.files[key]
        except KeyError:
            raise BaseModelMissing(f"The {self.spec.title} base at {self.path} has no {key} file.") from None


@dataclass(frozen=True)
class Location:
    """One place a base was looked for, and what was there."""

    source: str
    label: str  # in words: "voicebank's folder", "Coqui's download folder" …
    path: Path
    exists: bool
    present: tuple[str, ...] = ()  # file names found
    missing: tuple[str, ...] = ()  # needed file names not found

    @property
    def complete(self) -> bool:
        return self.exists and not self.missing


@dataclass(frozen=True)
class BaseReport:
    """Where one base was looked for (in search order) and the first complete place, if any."""

    spec: BaseSpec
    purpose: str
    locations: tuple[Location, ...]
    found: BaseModel | None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.spec.name,
            "title": self.spec.title,
            "purpose": self.purpose,
            "found": str(self.found.path) if self.found else None,
            "source": self.found.source if self.found else None,
            "licence": self.spec.licence,
            "locations": [
                {
                    "source": loc.source,
                    "path": str(loc.path),
                    "exists": loc.exists,
                    "present": list(loc.present),
                    "missing": list(loc.missing),
                }
                for loc in self.locations
            ],
        }


# ----------------------------------------------------------------------------- lookup


def spec_for(name: str) -> BaseSpec:
    """The spec of a base by name or alias (``xtts_v2``, ``xtts-v2``, ``vits`` …)."""
    key = str(name).strip().lower()
    for spec in SPECS.values():
        if key == spec.name or key in spec.aliases or key == spec.coqui_name:
            return spec
    raise UsageError(f"Unknown base model {name!r}; known: {', '.join(SPECS)}.")


def base_models_dir() -> Path:
    """voicebank's own folder for base models (``data_home()/base_models``)."""
    return data_home() / "base_models"


def coqui_models_dir() -> Path:
    """Where Coqui's ModelManager downloads models (its ``get_user_data_dir("tts")``)."""
    home = os.environ.get("TTS_HOME")
    xdg = os.environ.get("XDG_DATA_HOME")
    if home:
        root = Path(home).expanduser()
    elif xdg:
        root = Path(xdg).expanduser()
    elif sys.platform == "darwin":
        root = Path("~/Library/Application Support").expanduser()
    elif sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", "~")).expanduser()
    else:
        root = Path.home() / ".local" / "share"
    return root / "tts"


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder (as ``huggingface_hub`` resolves it, without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg_cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg_cache).expanduser() if xdg_cache else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def search_locations(spec: BaseSpec) -> list[tuple[str, str, Path]]:
    """``(source, label, folder)`` in search order, not counting an explicit ``--base``."""
    places = [
        ("voicebank", "voicebank's folder", base_models_dir() / spec.name),
        ("coqui", "Coqui's download folder", coqui_models_dir() / spec.coqui_folder),
    ]
    for repo in spec.hf_repos:
        root = hf_hub_cache() / f"models--{repo.replace('/', '--')}"
        snapshots = sorted(root.glob("snapshots/*"), key=_mtime, reverse=True) if root.is_dir() else []
        if snapshots:
            places += [("huggingface", f"Hugging Face cache of {repo}", s) for s in snapshots]
        else:
            places.append(("huggingface", f"Hugging Face cache of {repo}", root))
    return places


def locate_base(name: str, base: PathLike | None = None, purpose: str = "train") -> BaseReport:
    """Look for a base without raising: every place checked, and the first complete one."""
    if purpose not in PURPOSES:
        raise UsageError(f"purpose must be one of {PURPOSES}, not {purpose!r}.")
    spec = spec_for(name)
    if base is not None and not _names_spec(base, spec):
        folder = Path(os.fspath(base)).expanduser()
        if folder.is_file():
            folder = folder.parent
        places = [("given", "the folder given", folder)]
    else:
        places = search_locations(spec)
    locations = []
    found = None
    for source, label, folder in places:
        loc, files = _inspect(spec, purpose, source, label, folder)
        locations.append(loc)
        if found is None and loc.complete:
            found = BaseModel(spec=spec, path=folder, source=source, files=files)
    return BaseReport(spec=spec, purpose=purpose, locations=tuple(locations), found=found)


def find_base(name: str, base: PathLike | None = None, purpose: str = "train") -> BaseModel:
    """The base model ready for ``purpose`` ("train" or "speak"), or :class:`BaseModelMissing`.

    ``base`` is an explicit folder (only that folder is checked) or None to search (see the
    module docstring). The error names every place checked, the files missing, where to
    put them and how to download them.
    """
    report = locate_base(name, base, purpose)
    if report.found is not None:
        return report.found
    raise BaseModelMissing(missing_message(report))


def list_bases(purpose: str = "train") -> list[BaseReport]:
    """One report per known base: what is found where."""
    return [locate_base(name, None, purpose) for name in SPECS]


def missing_message(report: BaseReport) -> str:
    """What is missing, where it was looked for, and how to get it — for a person to act on."""
    spec = report.spec
    doing = "fine-tune from" if report.purpose == "train" else "speak with"
    needed = [f.name for f in spec.needed(report.purpose)]
    optional = [f.name for f in spec.optional()]
    given = report.locations and report.locations[0].source == "given"
    lines = [f"The {spec.title} base model ({spec.coqui_name}) is needed to {doing} it, "
             "and no complete copy was found."]
    lines.append("Looked in:")
    for loc in report.locations:
        if not loc.exists:
            state = "does not exist"
        elif loc.missing:
            state = "missing " + ", ".join(loc.missing)
        else:
            state = "complete"
        lines.append(f"  {loc.path} ({loc.label}): {state}")
    need = f"Needed files: {', '.join(needed)}"
    if optional:
        need += f" (optional: {', '.join(optional)})"
    lines.append(need + ".")
    lines.append("To get them, either:")
    size = f" ({spec.size})" if spec.size else ""
    lines.append(f"  - run: voicebank train base download {spec.name}{size}; licence: {spec.licence}")
    target = report.locations[0].path if given else base_models_dir() / spec.name
    lines.append(f"  - or download {', '.join(needed)} from {spec.manual_url} into {target}/")
    if not given:
        lines.append("  - or pass --base FOLDER, where FOLDER holds those files.")
    return "\n".join(lines)


def licence_notice(name: str) -> str:
    """The licence text to show (and have accepted) before a download."""
    spec = spec_for(name)
    return (
        f"{spec.title} ({spec.coqui_name}) is licensed under the {spec.licence}: {spec.licence_url}\n"
        f"{spec.licence_note}"
    )


def _names_spec(base: PathLike, spec: BaseSpec) -> bool:
    """True when ``base`` is the name of the model (``--base xtts_v2``) rather than a folder."""
    text = os.fspath(base)
    if Path(text).expanduser().exists():
        return False
    key = text.strip().lower()
    return key == spec.name or key in spec.aliases


def _inspect(spec: BaseSpec, purpose: str, source: str, label: str, folder: Path) -> tuple[Location, dict[str, Path]]:
    if not folder.is_dir():
        return Location(source, label, folder, False, (), tuple(f.name for f in spec.needed(purpose))), {}
    files: dict[str, Path] = {}
    present: list[str] = []
    missing: list[str] = []
    for bf in spec.files:
        hit = next((folder / n for n in bf.names if (folder / n).is_file()), None)
        if hit is not None:
            files[bf.key] = hit
            present.append(hit.name)
        elif purpose in bf.needed_for:
            missing.append(bf.name)
    return Location(source, label, folder, True, tuple(present), tuple(missing)), files


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0
