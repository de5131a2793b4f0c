"""The cut voice's three ONNX Runtime sessions (encoder, flow, decoder), run over ranges of latent frames.

Which windows to compute, and when, is decided in :mod:`.streaming`; this module
only runs the graphs, each range with exact context (see :meth:`SplitModel.flow_range` and
:meth:`SplitModel.decode_range`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .split import CutPoints, GraphParts, LazySession


@dataclass
class Latent:
    """The encoder's output for one sentence."""

    z_p: np.ndarray  # [1, C, T] float32, noise already added
    mask: np.ndarray  # [1, 1, T]
    durations: np.ndarray | None  # frames per phoneme id, or None if the graph hides them
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. sid for the flow/decoder

    @property
    def frames(self) -> int:
        return int(self.z_p.shape[2])


class SplitModel:
    """The three ONNX Runtime sessions of a cut voice (thread-safe: sessions allow concurrent runs).

    With ``threads`` > 1, encoder and flow get that many intra-op threads, and so does the
    decoder for small windows; a large window is instead split into ``threads`` sub-windows
    (each with its full context) decoded side by side by single-threaded runs: windows are
    independent, so this scales better than intra-op threads on the decoder's convolutions.
    """

    MIN_SPLIT = 96  # frames per sub-window below which a window is not split (context would cost too much)

    def __init__(self, parts: GraphParts, threads: int = 1) -> None:
        self.cut: CutPoints = parts.cut
        self.threads = max(1, int(threads))
        # sessions are made at first use: a short sentence needs none of them (see LazySession)
        self.encoder = LazySession(parts.files["encoder"], self.threads)
        self.flow_session = LazySession(parts.files["flow"], self.threads)
        self.decoder = LazySession(parts.files["decoder"], 1)  # for sub-windows run side by side
        self.decoder_wide = self.decoder  # for windows too small to split
        self._pool: Any = None
        if self.threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.decoder_wide = LazySession(parts.files["decoder"], self.threads)
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="voicebank-decode")
        self._enc_outputs = [self.cut.latent, self.cut.mask] + (
            [self.cut.durations] if self.cut.durations else []
        )

    def load(self) -> None:
        """Make every session now (before a first sentence whose latency matters)."""
        for session in {id(s): s for s in (self.encoder, self.flow_session, self.decoder, self.decoder_wide)}.values():
            session.load()

    def encode(self, feeds: dict[str, np.ndarray]) -> Latent:
        out = self.encoder.run(self._enc_outputs, feeds)
        durations = out[2].reshape(-1) if len(out) > 2 else None
        extra = {k: feeds[k] for k in set(self.cut.flow_extra) | set(self.cut.decoder_extra)}
        return Latent(z_p=out[0], mask=out[1], durations=durations, extra=extra)

    def flow(self, z_p: np.ndarray, mask: np.ndarray, extra: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {self.cut.latent: z_p, self.cut.mask: mask}
        feeds.update({k: extra[k] for k in self.cut.flow_extra})
        return self.flow_session.run(None, feeds)[0]

    def decode(self, z: np.ndarray, extra: dict[str, np.ndarray], wide: bool = True) -> np.ndarray:
        feeds = {self.cut.decoder_input: z}
        feeds.update({k: extra[k] for k in self.cut.decoder_extra})
        session = self.decoder_wide if wide else self.decoder
        return session.run(None, feeds)[0].reshape(-1)

    def flow_range(self, latent: Latent, a: int, b: int, context: int) -> np.ndarray:
        """Flow output for frames [a, b) of a sentence, exact given ``context`` frames each side."""
        T = latent.frames
        flo, fhi = max(0, a - context), min(T, b + context)
        z = self.flow(latent.z_p[:, :, flo:fhi], latent.mask[:, :, flo:fhi], latent.extra)
        return z[:, :, a - flo : b - flo]

    def decode_range(self, z: np.ndarray, s: int, e: int, context: int, hop: int, extra: dict[str, np.ndarray]) -> np.ndarray:
        """Audio for frames [s, e) from the flow output ``z``, exact given ``context`` frames each side."""
        T = z.shape[2]

        parts = self._split(s, e)

        def one(lo: int, hi: int) -> np.ndarray:
            dlo, dhi = max(0, lo - context), min(T, hi + context)
            audio = self.decode(z[:, :, dlo:dhi], extra, wide=len(parts) == 1)
            return audio[(lo - dlo) * hop : (hi - dlo) * hop]

        if len(parts) == 1:
            return one(s, e)
        return np.concatenate(list(self._pool.map(lambda r: one(*r), parts)))

    def _split(self, a: int, b: int) -> list[tuple[int, int]]:
        n = min(self.threads, (b - a) // self.MIN_SPLIT)
        if self._pool is None or n < 2:  # small windows: one run with intra-op threads
            return [(a, b)]
        edges = [a + (b - a) * i // n for i in range(n + 1)]
        return list(zip(edges[:-1], edges[1:]))

    def whole(self, latent: Latent) -> np.ndarray:
        """Flow and decoder over the whole sentence in one call each (the unstreamed reference)."""
        z = self.flow(latent.z_p, latent.mask, latent.extra)
        return self.decode(z, latent.extra)
