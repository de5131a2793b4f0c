"""Downloading a base model (needs the network and Coqui TTS), once its licence is accepted.

Where bases live and how they are found is :mod:`voicebank.voice.bases` (paths only, no
torch); this module only fetches one. Nothing is ever downloaded unless
:func:`download_base` is called (``voicebank train base download NAME``), and that
refuses to run until the licence has been accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BaseModelMissing, LicenceNotAccepted, MissingDependencyError
from ..voice.bases import XTTS_V2, BaseModel, BaseSpec, base_models_dir, find_base, licence_notice, spec_for


def download_base(name: str, *, accept_licence: bool = False) -> BaseModel:
    """Download a base with Coqui's ModelManager (needs the network) and return where it is.

    Raises :class:`LicenceNotAccepted` unless ``accept_licence`` is True: show
    :func:`licence_notice` to the person and ask first. XTTS-v2's ``dvae.pth``, which
    Coqui's downloader leaves out but fine-tuning needs, is fetched from the same
    Hugging Face repository.
    """
    spec = spec_for(name)
    if not accept_licence:
        raise LicenceNotAccepted(
            f"Downloading {spec.title} needs you to accept its licence first.\n{licence_notice(spec.name)}"
        )
    try:
        from TTS.utils.manage import ModelManager
    except ImportError as exc:
        raise MissingDependencyError("Coqui TTS (coqui-tts)", "train") from exc
    try:
        with _tos_agreed():
            model_path, _config, _item = ModelManager(progress_bar=False).download_model(spec.coqui_name)
    except Exception as exc:  # network errors come as requests/huggingface_hub/OSError types
        raise BaseModelMissing(
            f"Downloading {spec.title} failed ({type(exc).__name__}: {exc}).\n"
            f"Check the network connection, or download the files by hand from {spec.manual_url} "
            f"into {base_models_dir() / spec.name}/"
        ) from exc
    folder = Path(model_path)
    if folder.is_file():
        folder = folder.parent
    if spec is XTTS_V2 and not (folder / "dvae.pth").is_file():
        _fetch_hf_file(spec, folder, "dvae.pth")
    return find_base(spec.name, folder, "train" if spec is XTTS_V2 else "speak")


def _fetch_hf_file(spec: BaseSpec, folder: Path, filename: str) -> None:
    """Fetch one more file of a Hugging Face snapshot into the same snapshot folder."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise BaseModelMissing(
            f"{filename} of {spec.title} could not be fetched (huggingface_hub is not installed). "
            f"Download it by hand from {spec.manual_url} into {folder}/"
        ) from exc
    repo = _repo_of(folder, spec)
    try:
        got = Path(hf_hub_download(repo, filename))
    except Exception as exc:
        raise BaseModelMissing(
            f"{spec.title} was downloaded, but {filename} (needed for fine-tuning) could not be "
            f"({type(exc).__name__}: {exc}). Download it by hand from {spec.manual_url} into {folder}/"
        ) from exc
    if got.parent != folder:  # a different snapshot revision: link it next to the others
        target = folder / filename
        if not target.exists():
            try:
                target.symlink_to(got)
            except OSError:
                import shutil

                shutil.copyfile(got, target)


def _repo_of(folder: Path, spec: BaseSpec) -> str:
    for part in folder.parts:
        if part.startswith("models--"):
            return part[len("models--"):].replace("--", "/")
    return spec.hf_repos[0]


@contextmanager
def _tos_agreed() -> Iterator[None]:
    """Coqui asks for the licence on stdin unless this is set; we asked already."""
    old = os.environ.get("COQUI_TOS_AGREED")
    os.environ["COQUI_TOS_AGREED"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COQUI_TOS_AGREED", None)
        else:
            os.environ["COQUI_TOS_AGREED"] = old
