"""The Coqui ``VitsConfig`` of a run, and Coqui's vocabulary in Piper's id order.

:class:`PiperCharacters` orders Coqui's vocabulary exactly as Piper's ``phoneme_id_map``
(pad = blank = ``_``), so Coqui's tokenizer with ``add_blank`` and ``enable_eos_bos_chars``
emits Piper's ids ``^ _ p1 _ … pn _ $``. :func:`build_config` takes the architecture from
the base (or the recipe) and everything else from the recipe.

This module imports Coqui TTS; import it lazily (``voicebank.train`` itself stays light).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from TTS.tts.configs.shared_configs import CharactersConfig
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.utils.text.characters import BaseCharacters

from ..errors import BaseModelError, UsageError
from ..voice.phonemes import BOS, EOS, NUM_SYMBOLS, PAD, piper_symbols
from .recipes import Recipe

# The class path stored in every trained voice's config.json: kept stable so old voices load.
CHARACTERS_CLASS = "voicebank.train.vits.PiperCharacters"
_FREEZE_FLAGS = {
    "text_encoder": "freeze_encoder",
    "duration_predictor": "freeze_DP",
    "flow": "freeze_flow_decoder",
    "waveform_decoder": "freeze_waveform_decoder",
    "posterior_encoder": "freeze_PE",
}


class PiperCharacters(BaseCharacters):
    """Coqui's vocabulary in Piper's id order, so Coqui's tokenizer emits Piper's phoneme ids."""

    # Piper's pad is also the blank interspersed between phonemes; no punctuation class.
    SPECIALS = {"punctuations": "", "pad": PAD, "eos": EOS, "bos": BOS, "blank": PAD, "is_unique": False, "is_sorted": False}

    def __init__(self) -> None:
        super().__init__(characters="".join(piper_symbols()), **self.SPECIALS)

    def _create_vocab(self) -> None:
        self.vocab = list(piper_symbols())

    @staticmethod
    def init_from_config(config: Any) -> tuple[PiperCharacters, Any]:
        characters = PiperCharacters()
        config.characters = characters.to_config()
        return characters, config

    def to_config(self) -> CharactersConfig:
        return CharactersConfig(characters_class=CHARACTERS_CLASS, characters="".join(self.vocab), **self.SPECIALS)


def build_config(recipe: Recipe, base_config: VitsConfig | None, output_path: Path) -> VitsConfig:
    """The Coqui config of a run: architecture from the base (or the recipe), the rest from the recipe."""
    t = recipe.training
    if base_config is not None:
        config = VitsConfig()
        config.audio = base_config.audio
        config.model_args = base_config.model_args
    else:
        if recipe.audio is None or recipe.vits is None:
            raise UsageError(f"Recipe {recipe.name!r} trains from scratch but has no [audio]/[vits] section.")
        config = VitsConfig()
        for key, value in _as_lists(recipe.audio.__dict__).items():
            setattr(config.audio, key, value)
        for key, value in _as_lists(recipe.vits.__dict__).items():
            if key != "discriminator_width":
                setattr(config.model_args, key, value)
    args = config.model_args
    args.num_chars = NUM_SYMBOLS
    args.init_discriminator = True
    args.use_speaker_embedding = False
    args.use_d_vector_file = False
    args.use_language_embedding = False
    args.use_speaker_encoder_as_loss = False
    args.out_channels = config.audio.fft_size // 2 + 1
    args.spec_segment_size = t.segment_frames
    for part, flag in _FREEZE_FLAGS.items():
        setattr(args, flag, part in t.freeze)
    args.reinit_DP = False
    args.reinit_text_encoder = False
    _set_run_settings(config, recipe, output_path)
    return config


def _set_run_settings(config: VitsConfig, recipe: Recipe, output_path: Path) -> None:
    """Everything but the architecture: Piper's alphabet fed as phonemes, the recipe's optimiser
    and batches, and Coqui's own schedules switched off (the run is driven by :mod:`.finetune`)."""
    t = recipe.training
    config.run_name = "run"
    config.output_path = str(output_path)
    config.characters = PiperCharacters().to_config()
    config.use_phonemes = False
    config.phonemizer = None
    config.phoneme_language = recipe.espeak_voice  # recorded for the export; Coqui does not phonemize
    config.text_cleaner = None
    config.add_blank = True
    config.enable_eos_bos_chars = True
    config.test_sentences = []
    config.batch_size = t.batch_size
    config.eval_batch_size = t.eval_batch_size
    config.batch_group_size = 4
    config.num_loader_workers = t.loader_workers
    config.num_eval_loader_workers = 0
    config.lr_gen = t.lr_gen
    config.lr_disc = t.lr_disc
    config.lr_scheduler_gen_params = {"gamma": t.lr_decay, "last_epoch": -1}
    config.lr_scheduler_disc_params = {"gamma": t.lr_decay, "last_epoch": -1}
    config.grad_clip = [t.grad_clip, t.grad_clip]
    config.kl_loss_alpha = t.kl_weight
    config.mixed_precision = t.mixed_precision
    config.training_seed = t.seed
    config.epochs = 10**9  # the run is bounded by max_steps and early stopping instead
    config.run_eval = False  # evaluation runs every eval_every_steps (see finetune)
    config.test_delay_epochs = 10**9
    config.print_step = 10**9
    config.plot_step = 10**9
    config.save_step = 10**9  # checkpoints are written by finetune, atomically
    config.log_model_step = 10**9
    config.save_checkpoints = False
    config.dashboard_logger = "tensorboard"  # never constructed: finetune passes a silent logger
    config.use_noise_augment = False
    config.min_audio_len = 1
    config.max_audio_len = float("inf")
    config.min_text_len = 1
    config.max_text_len = float("inf")
    config.target_loss = recipe.early_stopping.metric


def load_config(path: Path) -> VitsConfig:
    """A Coqui VITS config from JSON (a voice's, a run's or a base model's ``config.json``)."""
    config = VitsConfig()
    try:
        config.load_json(str(path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BaseModelError(f"{path} is not a readable Coqui VITS config ({exc}).") from exc
    if getattr(config, "model", "vits") != "vits":
        raise BaseModelError(f"{path} describes a {config.model!r} model, not a VITS.")
    return config


def _as_lists(d: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        return [conv(x) for x in v] if isinstance(v, (list, tuple)) else v

    return {k: conv(v) for k, v in d.items()}
