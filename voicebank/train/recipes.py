"""Fine-tuning recipes: small TOML files that say how a voice is trained.

``--recipe NAME`` picks a recipe shipped with voicebank (``vits``, ``vits-tiny``, … in the
``voicebank.recipes`` package data); ``--recipe PATH`` reads a user's own file. A recipe
holds everything that is a *choice* (learning rates, batch size, how often to evaluate,
when to stop); what is a *fact* of the data or the base model (sample rate, architecture
of a base checkpoint) is read from there instead, so no value lives in two places.

Layout of a VITS recipe::

    schema_version = 1
    name = "vits"
    model = "vits"              # or "xtts" (handled by voicebank.train.xtts)
    base = "required"           # "required": fine-tune --base; "none": train from scratch;
                                # "voice": train further a voice made here, given with --base
    base_model = "joe-offline"  # optional: the base used when --base is not given
    [training]  ...             # TrainingSettings
    [early_stopping] ...        # EarlyStoppingSettings
    [inference] ...             # InferenceSettings: how the finished voice speaks by default
    [audio] ...                 # AudioSettings (from-scratch recipes only)
    [vits] ...                  # VitsArchitecture (from-scratch recipes only)

A recipe for another model keeps its own sections (e.g. ``[xtts]``); they are passed
through unchecked in :attr:`Recipe.sections` for that model's trainer to validate.

Unknown keys are errors (a typo must not silently train with a default). This module
imports no torch and no Coqui.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import RecipeError

SCHEMA_VERSION = 1
MODELS = ("vits", "xtts")
BASE_MODES = ("required", "none", "voice")
FREEZABLE = ("text_encoder", "duration_predictor", "flow", "waveform_decoder", "posterior_encoder")
_FREEZE_PATH = re.compile(r"[a-z_]+(\.[A-Za-z0-9_]+)*")


@dataclass(frozen=True)
class TrainingSettings:
    """How the optimiser runs. Steps are optimizer steps of the generator (one batch each)."""

    batch_size: int = 16
    eval_batch_size: int = 8
    max_steps: int = 10000  # the run stops here at the latest (counted from the very first step)
    eval_every_steps: int = 250  # held-out evaluation, checkpoint and best-model update cadence
    keep_checkpoints: int = 2  # full (resumable) checkpoints kept; the best one is kept as well
    lr_gen: float = 1e-4
    lr_disc: float = 1e-4
    lr_decay: float = 0.999875  # ExponentialLR gamma, applied once per epoch (Coqui's VITS default)
    grad_clip: float = 1000.0  # gradient-norm clip for both networks (Coqui's default)
    seed: int = 54321
    # Train the voice this many times with seeds seed, seed + 1, … and average the runs' weights
    # into the voice (voicebank.train.seed_runs); 1 is one plain run.
    runs: int = 1
    min_train_utterances: int = 20  # fewer training utterances than this is refused
    segment_frames: int = 32  # latent frames the waveform decoder sees per utterance and step
    mixed_precision: bool = False  # bf16/fp16 autocast on CUDA only
    loader_workers: int = 0  # DataLoader worker processes (0: load in the training process)
    # Parts kept fixed: any of FREEZABLE, or a module inside one named by its dotted path
    # ("flow.flows.0": the first coupling layer of the flow).
    freeze: tuple[str, ...] = ()
    # 0: Coqui's discriminator (46.7 M parameters); N: period discriminators N channels wide,
    # which CPU training can afford (a base built with the same width brings its trained one).
    discriminator_width: int = 0
    # At each evaluation also speak the held-out texts (the inference path) and log their speaker
    # similarity and WER (voicebank.train.speech_check); a few seconds per evaluation.
    speak_held_out: bool = False
    # Weight of the KL term that ties the posterior's latent to the text's prior (Coqui's
    # kl_loss_alpha; the mel loss weighs 45). Higher keeps what the decoder learns on
    # recordings closer to what it is given when it speaks new text.
    kl_weight: float = 1.0
    # Weight of a second mel loss on the path users hear (0: off). Each step the decoder also
    # speaks the training clip from the text's prior (sampled as at inference, aligned to the
    # recording by the step's own alignment, through the flow in reverse) and is scored
    # against the recording, relative to the usual mel loss (1.0: the same weight). Only the
    # decoder learns from it; it costs a second decoder pass per step (~25 % on a CPU). On a
    # 3-minute bank from the offline base it raised WER (docs/offline-voice.md).
    prior_decoder_weight: float = 0.0
    # L2-SP: a penalty pulling every trained generator weight toward the base's value, weight *
    # sum of squared differences (0: off). It lets more of the model learn the voice while the
    # parts a few minutes of speech cannot teach stay near the base, instead of freezing them.
    anchor_weight: float = 0.0
    # Decoupled L2-SP: after every generator step each trained weight moves this fraction of the
    # way back to the base's value (0: off). Unlike the penalty above it acts outside Adam, whose
    # per-step move is about the learning rate whatever a loss term's size, as AdamW decouples decay.
    anchor_decay: float = 0.0
    # Weight of a speaker-consistency loss (0: off): each generator step the decoder's output
    # and the recording's segment are embedded by resemblyzer's speaker encoder and the loss is
    # the weight times one minus their cosine (voicebank.train.speaker_loss; YourTTS used 9).
    speaker_loss_weight: float = 0.0

    def __post_init__(self) -> None:
        _positive(self, "batch_size", "eval_batch_size", "max_steps", "eval_every_steps", "keep_checkpoints")
        _positive(self, "min_train_utterances", "segment_frames", "runs")
        if self.lr_gen <= 0 or self.lr_disc <= 0:
            raise RecipeError("training.lr_gen and training.lr_disc must be positive.")
        if not 0.0 < self.lr_decay <= 1.0:
            raise RecipeError(f"training.lr_decay must be in (0, 1], not {self.lr_decay}.")
        if not self.kl_weight > 0:
            raise RecipeError(f"training.kl_weight must be positive, not {self.kl_weight}.")
        if not self.prior_decoder_weight >= 0:
            raise RecipeError(f"training.prior_decoder_weight must be 0 (off) or more, not {self.prior_decoder_weight}.")
        if not self.anchor_weight >= 0:
            raise RecipeError(f"training.anchor_weight must be 0 (off) or more, not {self.anchor_weight}.")
        if not 0.0 <= self.anchor_decay < 1.0:
            raise RecipeError(f"training.anchor_decay must be in [0, 1) (a fraction per step), not {self.anchor_decay}.")
        if not self.speaker_loss_weight >= 0:
            raise RecipeError(f"training.speaker_loss_weight must be 0 (off) or more, not {self.speaker_loss_weight}.")
        if self.loader_workers < 0:
            raise RecipeError("training.loader_workers must be 0 or more.")
        if self.discriminator_width < 0:
            raise RecipeError("training.discriminator_width must be 0 (Coqui's discriminator) or more.")
        bad = [f for f in self.freeze if not _FREEZE_PATH.fullmatch(f) or f.split(".")[0] not in FREEZABLE]
        if bad:
            raise RecipeError(
                f"training.freeze: unknown part(s) {bad}; choose from {list(FREEZABLE)}, "
                'or a module inside one by its dotted path (e.g. "flow.flows.0").'
            )


@dataclass(frozen=True)
class InferenceSettings:
    """How the finished voice speaks by default (the exported ``.onnx.json``'s ``inference``).

    The same values speak the held-out texts during training (``training.speak_held_out``),
    so the logged scores are those of the voice as it will be heard.
    """

    noise_scale: float = 0.667  # variation of the latent around the text's prior (Piper's default)
    length_scale: float = 1.0  # >1 slower, <1 faster
    noise_w: float = 0.8  # variation of the phoneme durations (Piper's default)
    # How far the exported voice goes from the base toward the fine-tuned model (voicebank.train.blend):
    # 1 is the model as trained; lower trades likeness for clearer new sentences.
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.noise_scale < 0 or self.noise_w < 0:
            raise RecipeError("inference.noise_scale and inference.noise_w must be 0 or more.")
        if not self.length_scale > 0:
            raise RecipeError(f"inference.length_scale must be positive, not {self.length_scale}.")
        if not 0 < self.strength <= 1:
            raise RecipeError(f"inference.strength must be above 0 and at most 1, not {self.strength}.")

    def scales(self) -> dict[str, float]:
        """The three scales of a Piper voice's ``.onnx.json`` ``inference``."""
        return {"noise_scale": self.noise_scale, "length_scale": self.length_scale, "noise_w": self.noise_w}

    def to_dict(self) -> dict[str, float]:
        return {**self.scales(), "strength": self.strength}


@dataclass(frozen=True)
class EarlyStoppingSettings:
    """When to stop because the held-out loss no longer improves.

    After each evaluation the held-out ``metric`` is compared with the best so far. It counts
    as an improvement when it is lower than ``best * (1 - min_delta)`` (``min_delta`` is
    relative, so the same value works for any loss scale). After ``patience`` evaluations in
    a row without improvement the run stops, but never before ``min_steps``. The voice kept
    (``VOICE/model.pth``) is always the best evaluation, not the last one.
    """

    enabled: bool = True
    metric: str = "loss_mel"  # a key of Coqui's VITS losses: loss_mel, loss_kl, loss_duration, loss_1 …
    patience: int = 8  # evaluations without improvement before stopping
    min_delta: float = 0.002  # relative improvement needed (0.002 = 0.2 %)
    min_steps: int = 2000  # never stop before this step

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise RecipeError("early_stopping.patience must be at least 1 evaluation.")
        if not 0.0 <= self.min_delta < 1.0:
            raise RecipeError("early_stopping.min_delta is relative: give a value in [0, 1), e.g. 0.002.")
        if self.min_steps < 0:
            raise RecipeError("early_stopping.min_steps must be 0 or more.")
        if not self.metric.startswith("loss"):
            raise RecipeError(f"early_stopping.metric must name a loss (loss_mel, loss_1, …), not {self.metric!r}.")


@dataclass(frozen=True)
class AudioSettings:
    """Feature extraction of a model trained from scratch (a base model brings its own)."""

    sample_rate: int = 22050
    fft_size: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    num_mels: int = 80
    mel_fmin: float = 0.0
    mel_fmax: float | None = None

    def __post_init__(self) -> None:
        _positive(self, "sample_rate", "fft_size", "win_length", "hop_length", "num_mels")
        if self.win_length > self.fft_size:
            raise RecipeError("audio.win_length must not exceed audio.fft_size.")


@dataclass(frozen=True)
class VitsArchitecture:
    """Size of a VITS trained from scratch (names follow Coqui's ``VitsArgs``)."""

    hidden_channels: int = 192
    hidden_channels_ffn_text_encoder: int = 768
    num_heads_text_encoder: int = 2
    num_layers_text_encoder: int = 6
    kernel_size_text_encoder: int = 3
    num_layers_posterior_encoder: int = 16
    num_layers_flow: int = 4
    use_sdp: bool = True
    resblock_type_decoder: str = "2"
    resblock_kernel_sizes_decoder: tuple[int, ...] = (3, 5, 7)
    resblock_dilation_sizes_decoder: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    upsample_rates_decoder: tuple[int, ...] = (8, 8, 4)
    upsample_kernel_sizes_decoder: tuple[int, ...] = (16, 16, 8)
    upsample_initial_channel_decoder: int = 256
    periods_multi_period_discriminator: tuple[int, ...] = (2, 3, 5, 7, 11)
    # 0: Coqui's discriminators (one scale + the periods above; 14-46 M parameters whatever
    # the generator's size). N > 0: small period discriminators N channels wide instead, for
    # tiny CPU models, where Coqui's would be 95 % of every checkpoint and of each step.
    discriminator_width: int = 0

    def __post_init__(self) -> None:
        _positive(self, "hidden_channels", "hidden_channels_ffn_text_encoder", "num_heads_text_encoder")
        _positive(self, "num_layers_text_encoder", "num_layers_posterior_encoder", "num_layers_flow")
        if self.hidden_channels % self.num_heads_text_encoder:
            raise RecipeError("vits.hidden_channels must be divisible by vits.num_heads_text_encoder.")
        if self.resblock_type_decoder not in ("1", "2"):
            raise RecipeError('vits.resblock_type_decoder must be "1" or "2".')
        if len(self.upsample_rates_decoder) != len(self.upsample_kernel_sizes_decoder):
            raise RecipeError("vits.upsample_rates_decoder and vits.upsample_kernel_sizes_decoder must have the same length.")
        if len(self.resblock_kernel_sizes_decoder) != len(self.resblock_dilation_sizes_decoder):
            raise RecipeError("vits.resblock_kernel_sizes_decoder and vits.resblock_dilation_sizes_decoder must have the same length.")
        if self.discriminator_width < 0:
            raise RecipeError("vits.discriminator_width must be 0 (Coqui's discriminators) or a positive width.")
        if not self.periods_multi_period_discriminator:
            raise RecipeError("vits.periods_multi_period_discriminator needs at least one period.")

    @property
    def hop_length(self) -> int:
        n = 1
        for r in self.upsample_rates_decoder:
            n *= int(r)
        return n


@dataclass(frozen=True)
class Recipe:
    """One training recipe, as read from TOML (see the module docstring)."""

    name: str
    model: str = "vits"
    description: str = ""
    base: str = "required"
    base_model: str = ""  # the base used when --base is not given ("": Coqui's LJSpeech VITS)
    espeak_voice: str = "en-us"
    training: TrainingSettings = field(default_factory=TrainingSettings)
    early_stopping: EarlyStoppingSettings = field(default_factory=EarlyStoppingSettings)
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    audio: AudioSettings | None = None
    vits: VitsArchitecture | None = None
    sections: dict[str, Any] = field(default_factory=dict)  # other models' own sections, unchecked
    schema_version: int = SCHEMA_VERSION
    source: str = field(default="", compare=False)  # where it was read from (not stored)

    @property
    def from_scratch(self) -> bool:
        return self.base == "none"

    def with_max_steps(self, max_steps: int | None) -> Recipe:
        """This recipe with ``training.max_steps`` replaced (None keeps it)."""
        if max_steps is not None and max_steps < 1:
            raise RecipeError("--max-steps must be at least 1.")
        return self._with_training(max_steps=max_steps)

    def with_seed(self, seed: int | None) -> Recipe:
        """This recipe with ``training.seed`` replaced (None keeps it): runs that differ only in it can be averaged."""
        if seed is not None and seed < 0:
            raise RecipeError("--seed must be 0 or more.")
        return self._with_training(seed=seed)

    def with_runs(self, runs: int | None) -> Recipe:
        """This recipe with ``training.runs`` replaced (None keeps it): how many seeded runs are averaged."""
        if runs is not None and runs < 1:
            raise RecipeError("--runs must be at least 1.")
        return self._with_training(runs=runs)

    def _with_training(self, **values: int | None) -> Recipe:
        """This recipe with the given ``training`` values replaced; None keeps a value."""
        from dataclasses import replace

        given = {k: int(v) for k, v in values.items() if v is not None}
        return replace(self, training=replace(self.training, **given)) if given else self

    def to_dict(self) -> dict[str, Any]:
        """A TOML/JSON-ready dict that :meth:`from_dict` reads back to an equal recipe."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "name": self.name,
            "model": self.model,
            "description": self.description,
            "base": self.base,
            "espeak_voice": self.espeak_voice,
        }
        if self.base_model:
            out["base_model"] = self.base_model
        if self.model == "vits":
            out["training"] = _plain(asdict(self.training))
            out["early_stopping"] = _plain(asdict(self.early_stopping))
            out["inference"] = self.inference.to_dict()
        if self.audio is not None:
            out["audio"] = {k: v for k, v in _plain(asdict(self.audio)).items() if v is not None}
        if self.vits is not None:
            out["vits"] = _plain(asdict(self.vits))
        out.update(self.sections)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> Recipe:
        """Build a recipe from parsed TOML; unknown keys and wrong types raise :class:`RecipeError`."""
        where = f" in {source}" if source else ""
        data = dict(data)
        version = data.pop("schema_version", None)
        if version is None:
            raise RecipeError(f"The recipe{where} has no schema_version; add 'schema_version = {SCHEMA_VERSION}' at the top.")
        if version != SCHEMA_VERSION:
            raise RecipeError(
                f"The recipe{where} has schema_version {version!r}; this voicebank reads version {SCHEMA_VERSION}."
            )
        model = str(data.pop("model", "vits"))
        if model not in MODELS:
            raise RecipeError(f"The recipe{where} names model {model!r}; known models: {', '.join(MODELS)}.")
        name = str(data.pop("name", "") or Path(source).stem or "recipe")
        top: dict[str, Any] = {"name": name, "model": model}
        for key in ("description", "base", "base_model", "espeak_voice"):
            if key in data:
                top[key] = _typed(data.pop(key), str, key, where)
        if top.get("base", "required") not in BASE_MODES:
            raise RecipeError(f"base must be one of {BASE_MODES}{where}, not {top['base']!r}.")
        if model != "vits":
            # Another model's trainer validates its own sections.
            return cls(**top, sections=data, source=source)
        parts: dict[str, Any] = {}
        for key, klass in (
            ("training", TrainingSettings),
            ("early_stopping", EarlyStoppingSettings),
            ("inference", InferenceSettings),
            ("audio", AudioSettings),
            ("vits", VitsArchitecture),
        ):
            if key in data:
                section = data.pop(key)
                if not isinstance(section, Mapping):
                    raise RecipeError(f"[{key}]{where} must be a table.")
                parts[key] = _section(klass, key, section, where)
        if data:
            raise RecipeError(
                f"Unknown key(s){where}: {', '.join(sorted(data))}. "
                "Known: schema_version, name, model, description, base, base_model, espeak_voice, "
                "[training], [early_stopping], [inference], [audio], [vits]."
            )
        recipe = cls(**top, **parts, source=source)
        _check_combination(recipe, where)
        return recipe


def _check_combination(recipe: Recipe, where: str) -> None:
    """Refuse sections that do not go together (each is valid alone)."""
    if recipe.from_scratch and (recipe.vits is None or recipe.audio is None):
        raise RecipeError(f"A from-scratch recipe (base = \"none\"){where} needs [audio] and [vits] sections.")
    if recipe.from_scratch and recipe.inference.strength < 1:
        raise RecipeError(
            f"inference.strength{where} takes a voice part of the way back to its base, and a from-scratch "
            "recipe has none; remove it."
        )
    if not recipe.from_scratch and (recipe.vits is not None or recipe.audio is not None):
        raise RecipeError(
            f"A fine-tuning recipe{where} takes its architecture and audio settings from the base model; "
            "remove [vits] and [audio] (or set base = \"none\" to train from scratch)."
        )
    if recipe.vits is not None and recipe.audio is not None and recipe.vits.hop_length != recipe.audio.hop_length:
        raise RecipeError(
            f"The product of vits.upsample_rates_decoder ({recipe.vits.hop_length}) must equal "
            f"audio.hop_length ({recipe.audio.hop_length}){where}."
        )


def available_recipes() -> list[str]:
    """Names of the recipes shipped with voicebank."""
    root = _package_root()
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def load_recipe(ref: str | os.PathLike[str]) -> Recipe:
    """A shipped recipe by name (``vits``) or a user's TOML file by path."""
    text = os.fspath(ref)
    path = Path(text).expanduser()
    looks_like_path = isinstance(ref, os.PathLike) or os.sep in text or text.endswith(".toml") or path.exists()
    if looks_like_path:
        if not path.is_file():
            raise RecipeError(f"No recipe file at {path}.")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RecipeError(f"Cannot read the recipe {path} ({exc}).") from exc
        return Recipe.from_dict(_parse_toml(raw, str(path)), source=str(path))
    resource = _package_root() / f"{text}.toml"
    if not resource.is_file():
        known = ", ".join(available_recipes()) or "none"
        raise RecipeError(f"Unknown recipe {text!r}. Shipped recipes: {known}; or give the path of a .toml file.")
    return Recipe.from_dict(_parse_toml(resource.read_bytes(), f"recipe {text!r}"), source=f"voicebank.recipes/{text}.toml")


def _package_root() -> Any:
    from importlib.resources import files

    return files("voicebank.recipes")


def _parse_toml(raw: bytes, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{where} is not valid TOML: {exc}") from exc


def _section(klass: type, name: str, data: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(klass)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RecipeError(
            f"Unknown key(s) in [{name}]{where}: {', '.join(unknown)}. Known: {', '.join(known)}."
        )
    values: dict[str, Any] = {}
    defaults = klass()
    for key, value in data.items():
        default = getattr(defaults, key)
        values[key] = _coerce(value, default, f"{name}.{key}", where)
    try:
        return klass(**values)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"[{name}]{where}: {exc}") from exc


def _coerce(value: Any, default: Any, key: str, where: str) -> Any:
    """Check ``value`` against the type of the field's default; lists become tuples."""
    if isinstance(default, bool):
        return _typed(value, bool, key, where)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{key}{where} must be a whole number, not {value!r}.")
        return value
    if isinstance(default, float) or default is None and isinstance(value, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{key}{where} must be a number, not {value!r}.")
        return float(value)
    if isinstance(default, str):
        return _typed(value, str, key, where)
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise RecipeError(f"{key}{where} must be a list, not {value!r}.")
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value


def _typed(value: Any, kind: type, key: str, where: str) -> Any:
    if not isinstance(value, kind):
        raise RecipeError(f"{key}{where} must be a {kind.__name__}, not {value!r}.")
    return value


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if int(getattr(obj, name)) < 1:
            raise RecipeError(f"{name} must be at least 1, not {getattr(obj, name)!r}.")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
