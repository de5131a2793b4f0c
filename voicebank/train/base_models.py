"""Downloading a base model into voicebank's data folder (needs the network), once its licence is accepted.

Where bases live and how they are found is :mod:`voicebank.voice.bases` (paths only, no
torch); this module only fetches one. Nothing is ever downloaded unless
:func:`download_base` is called (``voicebank train base download NAME``), and that
refuses to run until the licence has been accepted.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..durable import move
from ..errors import BaseModelMissing, LicenceNotAccepted, MissingDependencyError
from ..voice.bases import XTTS_V2, BaseModel, BaseSpec, base_models_dir, find_base, licence_notice, spec_for
from .coqui_trainer import env_var


def download_base(name: str, *, accept_licence: bool = False) -> BaseModel:
    """Download a base into voicebank's own folder (needs the network) and return it.

    Raises :class:`LicenceNotAccepted` unless ``accept_licence`` is True: show
    :func:`licence_notice` to the person and ask first. Files are fetched into a staging
    folder inside voicebank's data folder (Coqui's ModelManager for a release zip,
    ``huggingface_hub`` for a Hugging Face repository, XTTS-v2's ``dvae.pth`` included,
    which Coqui's downloader leaves out but fine-tuning needs) and moved to
    ``base_models_dir()/NAME`` once complete: nothing is written anywhere else, and a
    failed download leaves nothing behind. Raises :class:`BaseModelMissing` with one
    plain sentence when the network cannot be reached.
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
    target = base_models_dir() / spec.name
    staging = base_models_dir() / f".{spec.name}.download"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # Coqui asks for the licence on stdin unless COQUI_TOS_AGREED is set; we asked already.
        with env_var("COQUI_TOS_AGREED", "1"), _quiet_coqui():
            folder = _fetch(ModelManager(output_prefix=staging, progress_bar=False), spec, staging)
            if spec is XTTS_V2 and not (folder / "dvae.pth").is_file():
                _fetch_hf_file(spec, folder, "dvae.pth")
        _install(folder, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return find_base(spec.name, target, "train" if spec is XTTS_V2 else "speak")


def _fetch(manager: Any, spec: BaseSpec, staging: Path) -> Path:
    """Download the model's files into ``staging``; the folder that holds them."""
    item, full_name, _model = manager._set_model_item(spec.coqui_name)
    try:
        if "repo_id" in item:  # Coqui would use the user's Hugging Face cache: fetch into ours
            from huggingface_hub import snapshot_download

            folder = staging / full_name
            snapshot_download(item["repo_id"], allow_patterns=item.get("allow"), ignore_patterns=item.get("ignore"),
                              local_dir=folder)
            return folder
        model_path, _config, _item = manager.download_model(spec.coqui_name)
    except Exception as exc:  # network errors come as requests/huggingface_hub/OSError types
        raise BaseModelMissing(f"{_failure_words(spec, exc)}\n{_by_hand(spec)}") from exc
    folder = Path(model_path)
    return folder.parent if folder.is_file() else folder


def _failure_words(spec: BaseSpec, exc: BaseException) -> str:
    """Why a download failed, in one sentence (no library's exception chain)."""
    text = f"{type(exc).__name__}: {exc}"
    host = re.search(r"host='([^']+)'", text)
    where = host.group(1) if host else urlparse(spec.manual_url).netloc
    if any(k in text for k in ("NameResolution", "resolve", "ConnectionError", "ConnectTimeout", "ProxyError",
                               "Connection refused", "Network is unreachable", "LocalEntryNotFound", "offline")):
        return f"Downloading {spec.title} failed: {where} cannot be reached (no network connection?)."
    return f"Downloading {spec.title} failed ({text[:300]})."


def _by_hand(spec: BaseSpec) -> str:
    return (f"Connect to the network and run the command again, or download the files by hand from "
            f"{spec.manual_url} into {base_models_dir() / spec.name}/")


def _install(folder: Path, target: Path) -> None:
    """Move a complete download into place (replacing an incomplete folder of the same name)."""
    for junk in (folder / ".cache",):  # huggingface_hub's bookkeeping of a local_dir download
        shutil.rmtree(junk, ignore_errors=True)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        move(target, old)
        move(folder, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        move(folder, target)


def _fetch_hf_file(spec: BaseSpec, folder: Path, filename: str) -> None:
    """Fetch one more file of the model's Hugging Face repository into ``folder``."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise BaseModelMissing(
            f"{filename} of {spec.title} could not be fetched (huggingface_hub is not installed). "
            f"Download it by hand from {spec.manual_url} into {folder}/"
        ) from exc
    try:
        hf_hub_download(spec.hf_repos[0], filename, local_dir=folder)
    except Exception as exc:
        raise BaseModelMissing(
            f"{spec.title} was downloaded, but {filename} (needed for fine-tuning) could not be: "
            f"{_failure_words(spec, exc)} Download it by hand from {spec.manual_url} into "
            f"{base_models_dir() / spec.name}/"
        ) from exc


@contextmanager
def _quiet_coqui() -> Iterator[None]:
    """Coqui logs a download failure with its whole traceback; we say it in one sentence instead."""
    loggers = [logging.getLogger(n) for n in ("TTS", "huggingface_hub")]
    handler = logging.NullHandler()
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, (propagate, level) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.propagate, lg.level = propagate, level
