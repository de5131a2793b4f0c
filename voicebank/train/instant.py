"""The instant voice: a Kokoro-82M style array searched to sound like the person, in minutes, without training.

How (``voicebank train instant``):

1. **Target.** Every training recording (never the held-out split: only ``metadata.csv`` of
   a dataset is read, or the wav files of a plain folder) is embedded with the ECAPA
   speaker verifier. The recordings are split (by the seed) into *guide* recordings and
   *validation* recordings; each side's mean embedding is its target.
2. **Sentences.** Kokoro speaks the guide recordings' texts (≥ 8, cut to a few seconds
   each), and, apart, the validation recordings' texts; a folder without transcripts uses
   sentences from voicebank's prompt script instead (the target only needs the audio).
3. **Shipped voices.** Kokoro's English voices are scored (mean ECAPA cosine of their
   speech to the guide target) on a few fixed prompt sentences, whose embeddings are
   cached across runs (the screen is then free); the best few are kept.
4. **Blend.** Even and score-weighted blends of the kept voices are scored on all guide
   sentences; the best voice or blend is the start.
5. **Walk.** A trust-region search in a subspace: the principal directions of the shipped
   English voices, apart for the style's timbre half and its prosody half, so every
   candidate stays a mix of what Kokoro knows how to speak. Each
   evaluation gives one ECAPA embedding per guide sentence; a linear model of those
   embeddings in the style (:mod:`.instant_model`) proposes the best step inside a region
   around the best style so far, which grows where the model predicted well and shrinks
   where it did not. It is *guided* by the guide sentences; each step that helps there is
   checked on the validation sentences, and the style that scores best *there* is kept.
   The search stops when validation has not improved for a while, when no better step is
   found in the smallest region, when the time budget is spent (never among the first
   probes, which only fit the model, nor before its first model steps), or at ``max_steps`` — a
   search overfits the sentences it hears, and the validation curve (kept in the card)
   shows when.
6. **Guard.** A second verifier (Resemblyzer) hears the validation sentences too; a style
   is kept only if it scores no lower there than the start did, so the walk cannot trade
   likeness for a score only ECAPA gives (seen without the guard: docs/instant-voice.md).

The result is an instant voice folder (:mod:`voicebank.voice.kokoro_card`). Scores here are
what the search optimised (guide) and stopped on (validation); they are not the report of
success — ``voicebank train eval`` scores the voice on the held-out recordings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike
from ..errors import UsageError
from ..voice import kokoro_card
from .dataset_files import TRAIN_META, WAVS, read_metadata
from .instant_model import mean_cosine
from .instant_scoring import EmbeddingCache, Scorer, speech_pieces, target_embeddings

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
STYLE_SHAPE = (kokoro_card.STYLE_ROWS, kokoro_card.STYLE_DIM)


@dataclass(frozen=True)
class InstantSettings:
    """How long and how widely the search looks (the defaults take 15-35 minutes on one core)."""

    minutes: float = 25.0  # time budget for the whole command (the shipped-voice screen and the walk's first model steps always complete)
    seed: int = 0  # the same seed takes the same path; the budget decides how far along it
    guide_count: int = 12  # sentences the search hears (more hear less of each sentence's own quirks)
    validation_count: int = 6  # other sentences (and recordings) that stop it
    screen_count: int = 2  # prompt sentences each shipped voice is screened on (cached across runs)
    keep: int = 4  # best shipped voices kept for blending
    voices: tuple[str, ...] = ()  # shipped voices to consider (default: all English ones)
    dims: int = 27  # directions of the walk's subspace per half of the style (the 28 English voices span 27)
    step: float = 0.5  # first trust region: this many standard deviations of the shipped voices along each direction
    min_step: float = 0.25  # the walk stops when no better step is found in a region this small
    radius: float = 3.0  # the walk stays within this many standard deviations of the start
    patience: int = 6  # validation checks without gain before the walk stops
    # A second verifier (Resemblyzer) guards the walk: ECAPA alone was seen to climb on held-out
    # sentences while Resemblyzer and another d-vector fell (docs/instant-voice.md).
    guard: bool = True
    guard_slack: float = 0.0  # how far below the start the second verifier may go
    max_steps: int | None = None  # cap on walk steps (None: until patience or budget)
    # The budget cannot stop the walk before this many model steps: its probes only fit the
    # model, so a walk cut among them (a slow machine) would keep the start and waste them.
    min_model_steps: int = 4
    max_symbols: int = 70  # each sentence cut to about this many phonemes (~2-3 s of speech: ECAPA needs no more)
    threads: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.minutes <= 24 * 60:
            raise UsageError(f"--minutes must be above 0 and at most a day, not {self.minutes}.")
        if self.guide_count < 1 or self.validation_count < 1 or self.screen_count < 1 or self.keep < 1:
            raise UsageError("guide_count, validation_count, screen_count and keep must be at least 1.")
        if self.min_model_steps < 0:
            raise UsageError(f"min_model_steps must be 0 or more, not {self.min_model_steps}.")
        if not 0 < self.min_step <= self.step <= self.radius:
            raise UsageError(f"The walk needs 0 < min_step <= step <= radius (got {self.min_step}, {self.step}, {self.radius}).")


@dataclass(frozen=True)
class Clip:
    """One of the person's recordings: its file and what it says (None: no transcript)."""

    id: str
    path: Path
    text: str | None


@dataclass(frozen=True)
class InstantEvent:
    """Progress of the search (what ``on_event`` / the iterator gives; the library never prints).

    ``kind``: ``target``, ``screen``, ``blend``, ``walk`` (the walk will outlast the budget),
    ``step``, ``done``. ``elapsed`` and ``budget``
    are seconds; ``score`` is the guide score of what was just tried, ``validation`` the best
    validation score so far.
    """

    kind: str
    done: int = 0
    total: int = 0
    elapsed: float = 0.0
    budget: float = 0.0
    score: float | None = None
    validation: float | None = None
    message: str = ""
    card: dict[str, Any] | None = None


@dataclass
class _Log:
    """What the search did, for the card."""

    screen: dict[str, float] = field(default_factory=dict)
    blends: list[dict[str, Any]] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    stopped: str = ""


# ---------------------------------------------------------------------------- material


def find_clips(data: PathLike) -> tuple[list[Clip], str]:
    """The person's recordings to learn from, and what ``data`` was (``dataset`` or ``folder``).

    A dataset's held-out split (``metadata_eval.csv``) is never opened.
    """
    root = Path(data).expanduser()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder. Give a dataset made by 'voicebank train prepare', or a folder of recordings.")
    if (root / TRAIN_META).is_file():
        rows = read_metadata(root / TRAIN_META, root / WAVS)
        clips = [Clip(u.id, u.wav, u.normalized or u.text) for u in rows if u.wav.is_file()]
        kind = "dataset"
    else:
        folder = root / WAVS if (root / WAVS).is_dir() else root
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        clips = [Clip(p.stem, p, None) for p in files]
        kind = "folder"
    if not clips:
        raise UsageError(f"{root} holds no recordings to learn from (wav files, or a dataset's {TRAIN_META}).")
    return clips, kind


def split_clips(clips: Sequence[Clip], settings: InstantSettings) -> tuple[list[Clip], list[Clip]]:
    """Guide and validation recordings, chosen by the seed; with fewer than 4, both use them all."""
    if len(clips) < 4:
        return list(clips), list(clips)
    order = np.random.default_rng(settings.seed).permutation(len(clips))
    n_val = max(1, min(settings.validation_count, len(clips) // 3))
    val = [clips[i] for i in sorted(order[:n_val])]
    guide = [clips[i] for i in sorted(order[n_val:])]
    return guide, val


def sentence_texts(clips: Sequence[Clip], count: int, fallback: Iterator[str]) -> list[str]:
    """``count`` texts: the clips' transcripts first, then prompt sentences."""
    texts = [c.text for c in clips if c.text][:count]
    while len(texts) < count:
        nxt = next(fallback, None)
        if nxt is None:
            break
        texts.append(nxt)
    return texts


def _prompt_sentences() -> Iterator[str]:
    from ..bank.prompts import load_script

    for prompt in load_script():
        if len(prompt.text.split()) >= 6:
            yield prompt.text


# ---------------------------------------------------------------------------- the search


# Kokoro's style row has two halves: the first 128 numbers condition the decoder (the timbre),
# the last 128 the prosody predictor (pitch, energy, durations). Searching each half's own
# principal directions lets the walk change one without dragging the other along.
STYLE_HALVES = ((0, kokoro_card.STYLE_DIM // 2), (kokoro_card.STYLE_DIM // 2, kokoro_card.STYLE_DIM))


def subspace(styles: Sequence[np.ndarray], dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions of the shipped styles, ``dims`` per half of the style row
    (unit, flattened to the whole style), and their standard deviations."""
    stacked = np.stack([np.asarray(s, np.float64).reshape(STYLE_SHAPE) for s in styles])
    k = max(1, min(dims, len(styles) - 1))
    bases, stds = [], []
    for lo, hi in STYLE_HALVES:
        flat = stacked[..., lo:hi].reshape(len(styles), -1)
        _, sing, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
        full = np.zeros((k, *STYLE_SHAPE))
        full[..., lo:hi] = vt[:k].reshape(k, STYLE_SHAPE[0], hi - lo)
        bases.append(full.reshape(k, -1))
        stds.append(sing[:k] / np.sqrt(max(1, len(styles) - 1)))
    return np.concatenate(bases).astype(np.float32), np.concatenate(stds).astype(np.float32)


def _blend(styles: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    return np.tensordot(w, np.stack(styles), axes=1).astype(np.float32)


class _Clock:
    def __init__(self, minutes: float) -> None:
        self.start = time.monotonic()
        self.budget = minutes * 60.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def has(self, seconds: float) -> bool:
        return self.elapsed + seconds <= self.budget


class InstantSearch:
    """One search: material in, events out, the best style kept (see the module docstring)."""

    def __init__(self, data: PathLike, settings: InstantSettings, *, verifier: Any = None, engine: Any = None) -> None:
        from ..engines.kokoro import ENGLISH_VOICES

        self.settings = settings
        self.data = Path(data).expanduser()
        self.clips, self.kind = find_clips(self.data)
        self.guide_clips, self.val_clips = split_clips(self.clips, settings)
        unknown = [v for v in settings.voices if v not in ENGLISH_VOICES]
        if unknown:
            raise UsageError(f"Unknown Kokoro voice(s): {', '.join(unknown)}. Known: {', '.join(sorted(ENGLISH_VOICES))}.")
        self.voice_names = list(settings.voices or sorted(ENGLISH_VOICES))
        self._verifier = verifier
        self._engine = engine
        self.log = _Log()
        self.clock = _Clock(settings.minutes)

    def _event(self, kind: str, **kw: Any) -> InstantEvent:
        return InstantEvent(kind, elapsed=self.clock.elapsed, budget=self.clock.budget, **kw)

    def run(self) -> Iterator[InstantEvent]:
        """Do the search; the last event (``done``) carries the card; :attr:`best` holds the style."""
        from ..engines.kokoro import KokoroEngine, shipped_style

        s = self.settings
        shipped = {name: shipped_style(name) for name in self.voice_names}
        engine = self._engine or KokoroEngine(shipped[self.voice_names[0]], name="search", threads=s.threads)
        verifier = self._verifier or _make_verifier(s.threads)
        yield self._event("target", message=f"embedding {len(self.clips)} recordings of the person")
        prompts = _prompt_sentences()
        guide_texts = sentence_texts(self.guide_clips, s.guide_count, prompts)
        val_texts = sentence_texts(self.val_clips, s.validation_count, prompts)
        second = _make_second(s.threads) if s.guard else None
        g_target, g_target_2 = target_embeddings(verifier, second, self.guide_clips)
        v_target, v_target_2 = target_embeddings(verifier, second, self.val_clips)
        guide = Scorer(engine, verifier, speech_pieces(engine, guide_texts, s.max_symbols), g_target, second, g_target_2)
        val = Scorer(engine, verifier, speech_pieces(engine, val_texts, s.max_symbols), v_target, second, v_target_2)
        yield from self._screen(shipped, guide)
        start, start_rows = yield from self._blends(shipped, guide)
        at_start = (mean_cosine(start_rows, guide.target), start_rows, *val.both(start))
        self._point(0, at_start[0], at_start[2], at_start[3])
        basis, std = subspace(list(shipped.values()), s.dims) if len(shipped) > 1 else (np.zeros((0, start.size), np.float32), np.zeros(0, np.float32))
        self.best, best_val = yield from self._walk(start, at_start, basis, std, guide, val)
        self.card_search = self._summary(at_start, best_val, len(guide.pieces), len(val.pieces))
        yield self._event("done", score=None, validation=best_val, message=self.log.stopped, card=self.card_search)

    def _point(self, step: int, guide: float, val: float, val_2: float | None) -> None:
        point = {"step": step, "guide": round(guide, 4), "validation": round(val, 4)}
        if val_2 is not None:
            point["validation_resemblyzer"] = round(val_2, 4)
        point["seconds"] = round(self.clock.elapsed, 1)
        self.log.curve.append(point)

    def _screen(self, shipped: dict[str, np.ndarray], guide: Scorer) -> Iterator[InstantEvent]:
        """Score the shipped voices on fixed prompt sentences (their embeddings are cached across runs)."""
        from .speaker_verify import cosine

        texts = [t for _, t in zip(range(self.settings.screen_count), _prompt_sentences())]
        pieces = speech_pieces(guide.engine, texts, self.settings.max_symbols)
        cache = EmbeddingCache()
        for i, (name, style) in enumerate(shipped.items(), 1):
            scores = []
            for piece in pieces:
                emb = cache.get(name, piece)
                if emb is None:
                    audio = guide.engine.speak_symbols(piece, style=style)
                    emb = cache.put(name, piece, guide.verifier.embed(audio, guide.engine.sample_rate))
                scores.append(cosine(emb, guide.target))
            self.log.screen[name] = round(float(np.mean(scores)), 4)
            yield self._event("screen", done=i, total=len(shipped), score=self.log.screen[name], message=name)
        cache.save()

    def _blends(self, shipped: dict[str, np.ndarray], guide: Scorer) -> Iterator[InstantEvent]:
        """Score the kept voices and their blends on all guide sentences; return the best (its style and guide embeddings) as the start."""
        ranked = sorted(self.log.screen, key=lambda n: -self.log.screen[n])[: self.settings.keep]
        scores = {n: self.log.screen[n] for n in ranked}
        options: list[tuple[str, dict[str, float]]] = [(n, {n: 1.0}) for n in ranked[:1]]
        for k in range(2, len(ranked) + 1):
            options.append((f"even blend of the best {k}", {n: 1.0 for n in ranked[:k]}))
        if len(ranked) > 2:
            low = min(scores.values())
            options.append(("score-weighted blend", {n: scores[n] - low + 0.05 for n in ranked}))
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for i, (label, weights) in enumerate(options, 1):
            if best is not None and not self.clock.has(guide.seconds_per_call):
                break
            style = _blend([shipped[n] for n in weights], list(weights.values()))
            rows = guide.embeddings(style)
            score = mean_cosine(rows, guide.target)
            total = sum(weights.values())
            self.log.blends.append({"label": label, "weights": {n: round(w / total, 3) for n, w in weights.items()}, "guide": round(score, 4)})
            yield self._event("blend", done=i, total=len(options), score=score, message=label)
            if best is None or score > best[0]:
                best = (score, style, rows)
        assert best is not None
        return best[1], best[2]

    def _walk(self, start: np.ndarray, at_start: tuple[Any, ...], basis: np.ndarray, std: np.ndarray,
              guide: Scorer, val: Scorer) -> Iterator[InstantEvent]:
        """A trust-region walk on a local linear model of the guide embeddings (:mod:`.instant_model`).

        It first probes one random corner of the first region per direction (enough to fit the
        model), then repeatedly takes the model's best step inside the region around the best
        style so far: a step that scores higher on the guide sentences moves the centre (and
        the region doubles where the model predicted well), one that does not halves it. Each
        move is checked on the validation sentences and the best there is kept; with the guard,
        only if the second verifier does not score it below the start.
        """
        from .instant_model import LocalModel

        s = self.settings
        here, start_rows, best_val, start_2 = at_start
        floor = None if start_2 is None else start_2 - s.guard_slack
        rng = np.random.default_rng(s.seed)
        dims = len(std)
        centre, region = np.zeros(dims), s.step
        thetas, rows = [centre], [start_rows]
        best_style, since, step, misses = start, 0, 0, 0
        self.log.stopped = "only one shipped voice: nothing to search" if not dims else ""
        owed = dims + s.min_model_steps  # steps the budget cannot cut short
        need = dims * guide.seconds_per_call + s.min_model_steps * (guide.seconds_per_call + val.seconds_per_call)
        if dims and not self.clock.has(need):
            yield self._event("walk", message=(
                f"the walk fits its model on {dims} probes, then takes {s.min_model_steps} model steps before the budget "
                f"can stop it: about {need / 60:.1f} min on this machine, past the {s.minutes:g}-minute budget"))
        while dims:
            if s.max_steps is not None and step >= s.max_steps:
                self.log.stopped = f"reached {s.max_steps} steps"
                break
            if step >= owed and not self.clock.has(guide.seconds_per_call + val.seconds_per_call):
                self.log.stopped = "time budget spent"
                break
            step += 1
            low, high = np.maximum(-region, -s.radius - centre), np.minimum(region, s.radius - centre)
            if step <= dims:  # probes: the model needs one evaluation per direction first
                z, predicted = rng.choice([-1.0, 1.0], dims) * region, None
                z = np.clip(z, low, high)
            else:
                z, predicted = LocalModel(thetas, rows, centre).best_step(guide.target, low, high, rng)
            cand = centre + z
            style = self._style(start, basis, std, cand)
            thetas.append(cand)
            rows.append(guide.embeddings(style))
            score = mean_cosine(rows[-1], guide.target)
            if predicted is None or score <= here:
                if predicted is not None:
                    misses += 1
                    region = max(region * 0.5, s.min_step)
                yield self._event("step", done=step, total=s.max_steps or 0, score=score, validation=best_val)
                if misses >= 3 and region <= s.min_step:
                    self.log.stopped = "no better step in the smallest region"
                    break
                continue
            if score - here > 0.75 * (predicted - here):
                region = min(region * 2.0, s.radius)
            centre, here, misses = cand, score, 0
            checked, checked_2 = val.both(style)
            self._point(step, score, checked, checked_2)
            if checked > best_val and _above(checked_2, floor):
                best_style, best_val, since = style, checked, 0
            else:
                since += 1
            yield self._event("step", done=step, total=s.max_steps or 0, score=score, validation=best_val)
            if since >= s.patience:
                self.log.stopped = f"validation did not improve in {s.patience} checks"
                break
        self.log.steps = step
        return best_style, best_val

    @staticmethod
    def _style(start: np.ndarray, basis: np.ndarray, std: np.ndarray, theta: np.ndarray) -> np.ndarray:
        delta = (theta * std).astype(np.float32) @ basis
        return (start.reshape(-1) + delta).reshape(STYLE_SHAPE).astype(np.float32)

    def _summary(self, at_start: tuple[Any, ...], best_val: float, n_guide: int, n_val: int) -> dict[str, Any]:
        best_shipped = max(self.log.screen, key=lambda n: self.log.screen[n])
        return {
            "verifier": "ECAPA-TDNN (speechbrain/spkrec-ecapa-voxceleb), cosine to the mean embedding of the person's recordings",
            "settings": asdict(self.settings),
            "guide_sentences": n_guide,
            "validation_sentences": n_val,
            "screen": self.log.screen,
            "best_shipped": best_shipped,
            "blends": self.log.blends,
            "start": {"guide": round(at_start[0], 4), "validation": round(at_start[2], 4)},
            "guard": "a style is kept only if Resemblyzer scores it no lower than the start on the validation sentences" if self.settings.guard else None,
            "best": {"validation": round(best_val, 4)},
            "curve": self.log.curve,
            "steps": self.log.steps,
            "stopped": self.log.stopped,
            "seconds": round(self.clock.elapsed, 1),
            "note": "guide = the score the search optimised, validation = the score it stopped on; "
            "neither is a held-out score (voicebank train eval gives that)",
        }


def _above(value: float | None, floor: float | None) -> bool:
    return value is None or floor is None or value >= floor


def _make_second(threads: int) -> Any:
    import torch

    from .metrics import SpeakerEncoder

    torch.set_num_threads(max(1, threads))  # Resemblyzer's LSTM on torch's default threads fights ECAPA and Kokoro for the cores
    return SpeakerEncoder()


def _make_verifier(threads: int) -> Any:
    from .speaker_verify import EcapaVerifier

    return EcapaVerifier(threads=threads)


def make_instant_voice(
    data: PathLike,
    out: PathLike,
    settings: InstantSettings | None = None,
    *,
    name: str | None = None,
    on_event: Callable[[InstantEvent], None] | None = None,
    verifier: Any = None,
    consent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Search a style for the person in ``data`` and write the instant voice to ``out``; returns its card.

    ``consent`` (from :mod:`.consent_gate`) goes into the voice card (``card.json``) written with it.
    """
    settings = settings or InstantSettings()
    out = Path(out).expanduser()
    kokoro_card.check_target(out)  # refuse a wrong target before minutes of work
    search = InstantSearch(data, settings, verifier=verifier)
    for event in search.run():
        if on_event is not None:
            on_event(event)
    made_from = {
        "data": str(search.data.resolve()),
        "kind": search.kind,
        "recordings": len(search.clips),
        "guide_recordings": [c.id for c in search.guide_clips],
        "validation_recordings": [c.id for c in search.val_clips],
        "transcripts": search.kind == "dataset",
    }
    card = None
    if consent is not None:
        from .consent_gate import training_card

        card = training_card(name or out.name, "instant", consent, data=search.data, training_data={"takes": len(search.clips)},
                             base_model=("Kokoro-82M", kokoro_card.LICENCE)).to_dict()
    return kokoro_card.write_voice(out, search.best, name=name or out.name, made_from=made_from, search=search.card_search,
                                   card=card)
