"""Recipe + dataset (+ base model) → a Coqui VITS that speaks Piper's phoneme ids.

Responsible for: the phoneme alphabet (Piper's ``phoneme_id_map``, so an exported voice
runs in Piper and in our engine), turning transcripts into espeak-ng phonemes exactly as
the engine does at run time, checking a dataset before hours are spent on it, building
the Coqui ``VitsConfig`` and model, and warm-starting it from a base checkpoint. Not
responsible for running the training loop (:mod:`.finetune`) or exporting (:mod:`.export`).

Phoneme ids: Piper voices use a 151-entry ``phoneme_id_map`` (``_`` 0 pad, ``^`` 1 start,
``$`` 2 end, space 3, …) in a 256-row embedding, and a sentence becomes
``^ _ p1 _ p2 … pn _ $``. Coqui's tokenizer with ``add_blank`` and ``enable_eos_bos_chars``
produces ``bos blank p1 blank … pn blank eos``; :class:`PiperCharacters` orders Coqui's
vocabulary exactly as Piper's map (pad = blank = ``_``), so the ids are Piper's ids. The
text fed to Coqui is the phoneme string itself (``use_phonemes`` off): phonemizing happens
here, once, with the espeak-ng bundled in piper-tts.

This module imports Coqui TTS; import it lazily (``voicebank.train`` itself stays light).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from TTS.tts.configs.shared_configs import CharactersConfig
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import Vits
from TTS.tts.utils.text.characters import BaseCharacters

from ..errors import UsageError, VoicebankError, BaseModelError
from .dataset import DatasetError, Utterance
from .recipes import Recipe

PAD, BOS, EOS = "_", "^", "$"
PIPER_SYMBOLS = 151  # ids 0..150: the map of Piper's English voices (joe, lessac, …)
NUM_SYMBOLS = 256  # rows of the phoneme embedding in Piper voices
_PLACEHOLDER = 0xE000  # private-use code points stand in for the unused ids 151..255
SPEAKER = "speaker"
_FREEZE_FLAGS = {
    "text_encoder": "freeze_encoder",
    "duration_predictor": "freeze_DP",
    "flow": "freeze_flow_decoder",
    "waveform_decoder": "freeze_waveform_decoder",
    "posterior_encoder": "freeze_PE",
}
COQUI_LJSPEECH_VITS = "tts_models/en/ljspeech/vits"


# ----------------------------------------------------------------------------- phoneme ids


@functools.lru_cache(maxsize=1)
def piper_symbols() -> tuple[str, ...]:
    """The symbol of each id 0..255: Piper's map for ids 0..150, placeholders after."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    by_id: dict[int, str] = {}
    for symbol, ids in DEFAULT_PHONEME_ID_MAP.items():
        if len(ids) == 1 and ids[0] < PIPER_SYMBOLS:
            by_id[ids[0]] = symbol
    if sorted(by_id) != list(range(PIPER_SYMBOLS)) or by_id[0] != PAD or by_id[1] != BOS or by_id[2] != EOS:
        raise VoicebankError(
            "The installed piper-tts has an unexpected phoneme map (ids 0-150 changed); "
            "install the piper-tts version voicebank was tested with (1.8)."
        )
    return tuple(by_id[i] for i in range(PIPER_SYMBOLS)) + tuple(
        chr(_PLACEHOLDER + i) for i in range(NUM_SYMBOLS - PIPER_SYMBOLS)
    )


def piper_phoneme_id_map() -> dict[str, list[int]]:
    """Piper's ``phoneme_id_map`` for the ids this model was trained on (the 151 real symbols)."""
    return {s: [i] for i, s in enumerate(piper_symbols()[:PIPER_SYMBOLS])}


class PiperCharacters(BaseCharacters):
    """Coqui's vocabulary in Piper's id order, so Coqui's tokenizer emits Piper's phoneme ids."""

    def __init__(self) -> None:
        symbols = piper_symbols()
        super().__init__(
            characters="".join(symbols),
            punctuations="",
            pad=PAD,
            eos=EOS,
            bos=BOS,
            blank=PAD,
            is_unique=False,
            is_sorted=False,
        )

    def _create_vocab(self) -> None:
        self.vocab = list(piper_symbols())

    @staticmethod
    def init_from_config(config: Any) -> tuple[PiperCharacters, Any]:
        characters = PiperCharacters()
        config.characters = characters.to_config()
        return characters, config

    def to_config(self) -> CharactersConfig:
        return CharactersConfig(
            characters_class=f"{__name__}.PiperCharacters",
            characters="".join(self.vocab),
            punctuations="",
            pad=PAD,
            eos=EOS,
            bos=BOS,
            blank=PAD,
            is_unique=False,
            is_sorted=False,
        )


# ----------------------------------------------------------------------------- transcripts


def transcript_problem(text: str, espeak_voice: str) -> str | None:
    """Why espeak-ng would not read ``text`` as the words it says (None when it would).

    espeak-ng never fails: it reads an emoji as "grinning face" and Chinese characters as
    "chinese letter". Training on that teaches the voice nonsense, so such transcripts are
    refused with the characters named.
    """
    latin_voice = espeak_voice.split("-")[0].lower() in _LATIN_LANGUAGES
    bad: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in " \t":
            continue
        if cat.startswith("L"):
            if latin_voice and not _is_latin(ch):
                bad.append(ch)
        elif cat.startswith(("N", "P", "Z", "M")) or cat in ("Sm", "Sc"):
            continue
        else:  # So (emoji, ™), Sk, control, private-use, unassigned
            bad.append(ch)
    if bad:
        shown = ", ".join(f"{c!r} ({_char_name(c)})" for c in dict.fromkeys(bad))
        return f"characters espeak-ng cannot read as words: {shown}"
    if not any(unicodedata.category(c).startswith(("L", "N")) for c in text):
        return "no words to say"
    return None


_LATIN_LANGUAGES = frozenset(
    "en fr de es it nl pt ca da sv nb no fi et lv lt pl cs sk sl hr bs sr-latn ro hu tr id ms vi sw af eu ga cy is mt sq".split()
)


def _is_latin(ch: str) -> bool:
    return "LATIN" in _char_name(ch)


def _char_name(ch: str) -> str:
    return unicodedata.name(ch, f"U+{ord(ch):04X}")


def phonemize(texts: Sequence[str], espeak_voice: str) -> list[str]:
    """espeak-ng phonemes of each text as one string (sentences joined by a space), NFD like Piper."""
    from voicebank.engines.piper_onnx import make_phonemizer

    phonemizer = make_phonemizer("piper")
    out = []
    for text in texts:
        sentences = phonemizer.phonemize(espeak_voice, text)
        out.append(" ".join("".join(s).strip() for s in sentences if s).strip())
    return out


@dataclass(frozen=True)
class TrainingItem:
    """One utterance ready for Coqui: its id, wav and phoneme string."""

    id: str
    wav: Path
    phonemes: str
    seconds: float

    def to_sample(self, root: Path) -> dict[str, Any]:
        return {
            "text": self.phonemes,
            "audio_file": str(self.wav),
            "speaker_name": SPEAKER,
            "root_path": str(root),
            "language": "",
            "audio_unique_name": self.id,
        }


def check_splits(
    train: Sequence[Utterance], held_out: Sequence[Utterance], espeak_voice: str, sample_rate: int
) -> tuple[list[TrainingItem], list[TrainingItem]]:
    """Validate and phonemize both splits; every problem of both goes into one :class:`DatasetError`."""
    train_items, train_problems = _check(train, espeak_voice, sample_rate)
    eval_items, eval_problems = _check(held_out, espeak_voice, sample_rate)
    problems = [f"{p} (training)" for p in train_problems] + [f"{p} (held out)" for p in eval_problems]
    if problems:
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise DatasetError(
            f"{len(problems)} utterance(s) cannot be trained on{more}:\n  "
            + "\n  ".join(problems[:8])
            + "\nFix the transcript in the bank (write symbols and foreign words out as they are spoken) "
            "or leave the take out, then run 'voicebank train prepare' again."
        )
    return train_items, eval_items


def _check(utterances: Sequence[Utterance], espeak_voice: str, sample_rate: int) -> tuple[list[TrainingItem], list[str]]:
    """Audio and transcript problems of one split, and the phonemized utterances without problems."""
    import soundfile as sf

    allowed = set(piper_symbols()[:PIPER_SYMBOLS])
    problems: list[str] = []
    texts: list[str] = []
    infos: list[tuple[Utterance, float]] = []
    for utt in utterances:
        text = utt.normalized or utt.text
        why = transcript_problem(text, espeak_voice)
        if why:
            problems.append(f"{utt.id}: the transcript {text[:60]!r} has {why}")
            continue
        try:
            info = sf.info(str(utt.wav))
        except (RuntimeError, OSError) as exc:
            problems.append(f"{utt.id}: its audio {utt.wav} cannot be read ({exc})")
            continue
        if info.samplerate != sample_rate:
            problems.append(
                f"{utt.id}: its audio is {info.samplerate} Hz but the model works at {sample_rate} Hz "
                f"(prepare the dataset again with --sample-rate {sample_rate})"
            )
            continue
        if info.channels != 1:
            problems.append(f"{utt.id}: its audio has {info.channels} channels; the dataset must be mono")
            continue
        if info.frames == 0:
            problems.append(f"{utt.id}: its audio is empty")
            continue
        texts.append(text)
        infos.append((utt, info.frames / info.samplerate))
    items: list[TrainingItem] = []
    for (utt, seconds), text, phonemes in zip(infos, texts, phonemize(texts, espeak_voice)):
        unknown = sorted(set(phonemes) - allowed)
        if not phonemes.strip(" .,;:!?"):
            problems.append(f"{utt.id}: espeak-ng found nothing to say in {text[:60]!r}")
        elif unknown:
            shown = ", ".join(f"{p!r}" for p in unknown)
            problems.append(
                f"{utt.id}: espeak-ng ({espeak_voice}) gives phonemes outside Piper's alphabet ({shown}) for {text[:60]!r}"
            )
        else:
            items.append(TrainingItem(utt.id, utt.wav, unicodedata.normalize("NFD", phonemes), seconds))
    return items, problems


# ----------------------------------------------------------------------------- config and model


class VoicebankVits(Vits):
    """Coqui's VITS without its dashboard side work (figures, test sentences).

    Coqui would plot spectrograms and synthesize ``test_sentences`` from raw text at every
    evaluation; here the text is phonemes and nobody reads the dashboard, so those hooks
    do nothing.
    """

    def __init__(
        self,
        config: VitsConfig,
        discriminator_width: int = 0,
        freeze: Sequence[str] = (),
        prior_decoder_weight: float = 0.0,
        prior_noise_scale: float = 0.667,
    ) -> None:
        super().__init__(config)
        self.prior_decoder_weight = float(prior_decoder_weight)
        self.prior_noise_scale = float(prior_noise_scale)
        if discriminator_width and getattr(self, "disc", None) is not None:
            import torch.nn as nn

            periods = self.args.periods_multi_period_discriminator
            self.disc.nets = nn.ModuleList(_small_period_discriminator(p, discriminator_width) for p in periods)
        # Every frozen part or module is fixed from the start; Coqui's flags (build_config) fix
        # the whole parts again at each epoch start.
        for path in freeze:
            try:
                module = self.get_submodule(path)
            except AttributeError:
                raise UsageError(f"training.freeze: this model has no module {path!r}.") from None
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: Any, x_lengths: Any, y: Any, y_lengths: Any, waveform: Any, aux_input: Any = None) -> dict[str, Any]:
        """Coqui's training forward; with ``prior_decoder_weight`` also the decoder's output from the prior.

        The prior path is the one new text takes at inference: a latent sampled from the
        text encoder's ``m_p``/``logs_p`` (here expanded to the recording's frames by this
        step's alignment, so it lines up with the real audio), the flow in reverse, the
        decoder. The same frames as the posterior path's segment are decoded; only the
        decoder gets gradients from it (the latent is computed without them).
        """
        outputs = super().forward(x, x_lengths, y, y_lengths, waveform, aux_input=aux_input)
        if self.training and self.prior_decoder_weight > 0:
            import torch
            from TTS.tts.utils.helpers import segment, sequence_mask

            with torch.no_grad():
                m_p, logs_p = outputs["m_p"], outputs["logs_p"]
                y_mask = sequence_mask(y_lengths, m_p.size(2)).unsqueeze(1).to(m_p.dtype)
                z_p = (m_p + torch.randn_like(m_p) * torch.exp(logs_p) * self.prior_noise_scale) * y_mask
                z = self.flow(z_p, y_mask, g=None, reverse=True)
                z_slice = segment(z, outputs["slice_ids"], self.spec_segment_size, pad_short=True)
            outputs["prior_outputs"] = self.waveform_decoder(z_slice, g=None)
        return outputs

    def train_step(self, batch: dict[str, Any], criterion: Any, optimizer_idx: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Coqui's step; the generator's step adds the prior path's mel loss (``loss_prior_mel``)."""
        outputs, loss_dict = super().train_step(batch, criterion, optimizer_idx)
        if optimizer_idx == 1 and outputs.get("prior_outputs") is not None:
            import torch
            from TTS.tts.models.vits import wav_to_mel
            from TTS.tts.utils.helpers import segment

            audio = self.config.audio
            mel = segment(batch["mel"].float(), outputs["slice_ids"], self.spec_segment_size, pad_short=True)
            mel_hat = wav_to_mel(
                y=outputs["prior_outputs"].float(), n_fft=audio.fft_size, sample_rate=audio.sample_rate,
                num_mels=audio.num_mels, hop_length=audio.hop_length, win_length=audio.win_length,
                fmin=audio.mel_fmin, fmax=audio.mel_fmax, center=False,
            )
            loss = torch.nn.functional.l1_loss(mel_hat, mel) * self.config.mel_loss_alpha * self.prior_decoder_weight
            loss_dict["loss_prior_mel"] = loss
            loss_dict["loss"] = loss_dict["loss"] + loss
        return outputs, loss_dict

    def train_log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def eval_log(self, *args: Any, **kwargs: Any) -> None:
        return None

    def test_run(self, trainer: Any) -> dict[str, Any]:
        return {"figures": {}, "audios": {}}

    def test_log(self, *args: Any, **kwargs: Any) -> None:
        return None


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
    return config


def make_model(config: VitsConfig, recipe: Recipe | None = None) -> VoicebankVits:
    """The trainable model of ``config``; a tiny recipe may ask for small discriminators."""
    if recipe is None:
        return VoicebankVits(config)
    if recipe.vits is not None and recipe.vits.discriminator_width:
        width = recipe.vits.discriminator_width
    else:
        width = recipe.training.discriminator_width
    return VoicebankVits(
        config,
        discriminator_width=width,
        freeze=recipe.training.freeze,
        prior_decoder_weight=recipe.training.prior_decoder_weight,
        prior_noise_scale=recipe.inference.noise_scale,
    )


def _small_period_discriminator(period: int, width: int) -> Any:
    """A narrow HiFi-GAN-style period discriminator (for tiny CPU models only).

    Like Coqui's ``DiscriminatorP`` it folds the waveform into ``period`` columns, runs
    strided (5, 1) convolutions down the time axis and returns ``(scores, features)``;
    its channels are ``width``, ``2*width``, ``4*width`` instead of 32 … 1024.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.nn.utils.parametrizations import weight_norm

    class SmallPeriodDiscriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.period = period
            chans = [1, width, 2 * width, 4 * width, 4 * width]
            self.convs = nn.ModuleList(
                weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1) if i < 3 else (1, 1), padding=(2, 0)))
                for i in range(len(chans) - 1)
            )
            self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

        def forward(self, x: Any) -> tuple[Any, list[Any]]:
            b, c, t = x.shape
            if t % self.period:
                x = F.pad(x, (0, self.period - t % self.period), "reflect")
            x = x.view(b, c, -1, self.period)
            feats = []
            for conv in self.convs:
                x = F.leaky_relu(conv(x), 0.1)
                feats.append(x)
            x = self.conv_post(x)
            feats.append(x)
            return torch.flatten(x, 1, -1), feats

    return SmallPeriodDiscriminator()


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


def generator_state(model: Any) -> dict[str, Any]:
    """The weights needed to speak (everything but the discriminator), as CPU tensors."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("disc.")}


def _as_lists(d: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        return [conv(x) for x in v] if isinstance(v, (list, tuple)) else v

    return {k: conv(v) for k, v in d.items()}


# ----------------------------------------------------------------------------- base model


@dataclass(frozen=True)
class BaseModel:
    """A Coqui-format VITS checkpoint to start from, and its config."""

    checkpoint: Path
    config: Path


def resolve_base(ref: str | Path | None) -> BaseModel:
    """The checkpoint and config of ``--base`` (a folder or a ``.pth`` in one), or of the VITS base.

    Looked up by :func:`voicebank.train.base_models.find_base` (``ref`` None: voicebank's
    and Coqui's model folders). Nothing is ever downloaded: a missing base raises
    :class:`~voicebank.train.base_models.BaseModelMissing`, whose message says what to
    download (Coqui's ``tts_models/en/ljspeech/vits``) and where to put it. A voice trained
    by voicebank (``model.pth`` + ``config.json``) is a valid base too.
    """
    from .base_models import BaseModelMissing, find_base

    if ref is not None and str(ref) in OFFLINE_BASE_NAMES:
        return offline_base()
    given = Path(str(ref)).expanduser() if ref is not None else None
    if given is not None and given.is_file() and given.suffix == ".pth" and (given.parent / "config.json").is_file():
        return BaseModel(checkpoint=given, config=given.parent / "config.json")  # a checkpoint named by hand
    try:
        found = find_base("vits", ref, purpose="train")
    except BaseModelMissing as exc:
        text = str(exc)
        if COQUI_LJSPEECH_VITS not in text:  # name the model as Coqui's tools know it
            text += f"\n(Coqui's name for this model: {COQUI_LJSPEECH_VITS}; voicebank never downloads during training.)"
        raise BaseModelMissing(text) from None
    return BaseModel(checkpoint=found.file("model"), config=found.file("config"))


OFFLINE_BASE_NAMES = ("joe-offline", "offline")


def offline_base() -> BaseModel:
    """The offline base built from the stock voice (``voicebank train base build``), or a clear error."""
    from .base_models import BaseModelMissing
    from .offline_base import default_base_dir

    folder = default_base_dir()
    model, config = folder / "model.pth", folder / "config.json"
    if not (model.is_file() and config.is_file()):
        raise BaseModelMissing(
            f"The offline base is not built yet (looked in {folder}). Build it once from the stock voice, with "
            "nothing downloaded: voicebank train base build (about 20 minutes on 2 CPU cores)."
        )
    return BaseModel(checkpoint=model, config=config)


def base_config(base: BaseModel) -> VitsConfig:
    config = load_config(base.config)
    args = config.model_args
    if args.use_speaker_embedding or args.use_d_vector_file or args.use_language_embedding:
        raise BaseModelError(
            f"{base.config} is a multi-speaker or multi-lingual VITS; voicebank fine-tunes single-speaker bases "
            f"(such as {COQUI_LJSPEECH_VITS})."
        )
    return config


def load_base_weights(model: Any, base: BaseModel, config_of_base: VitsConfig) -> dict[str, int]:
    """Copy the base's weights into ``model``; remap its phoneme embedding to Piper's ids.

    Rows of the text embedding are matched by symbol: a symbol the base knows keeps its
    learned vector, the others keep their fresh initialisation. Returns counts for the
    progress report (``tensors``, ``symbols_kept``, ``symbols_new``, ``fresh_generator_tensors``,
    ``fresh_discriminator_tensors``).
    """
    tensors, counts = base_weights_in_layout(model, base, config_of_base)
    model.load_state_dict(tensors, strict=False)
    return counts


def base_weights_in_layout(model: Any, base: BaseModel, config_of_base: VitsConfig) -> tuple[dict[str, Any], dict[str, int]]:
    """The base's tensors renamed and shaped as ``model``'s, and the counts of :func:`load_base_weights`.

    Only tensors the base has are returned. In the phoneme embedding, rows of symbols the
    base does not know hold ``model``'s current values.
    """
    import torch

    try:
        state = torch.load(str(base.checkpoint), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError …
        raise BaseModelError(f"Cannot read the base checkpoint {base.checkpoint} ({exc}).") from exc
    weights = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise BaseModelError(f"{base.checkpoint} is not a Coqui checkpoint (no 'model' weights).")
    own = model.state_dict()
    weights = _modern_weight_norm_keys(weights, own)
    key = "text_encoder.emb.weight"
    kept = new = 0
    if key in weights:
        emb = own[key].clone()
        old = weights[key]
        ids = _base_symbol_ids(config_of_base)
        for i, symbol in enumerate(piper_symbols()):
            j = ids.get(symbol)
            if j is not None and j < old.shape[0] and old.shape[1] == emb.shape[1]:
                emb[i] = old[j]
                kept += 1
            elif i < PIPER_SYMBOLS:
                new += 1
        weights = {**weights, key: emb}
    loadable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    wrong = [k for k in weights if k in own and own[k].shape != weights[k].shape and not k.startswith("disc.")]
    if wrong:
        raise BaseModelError(
            f"The base {base.checkpoint} does not match its config.json ({len(wrong)} tensors differ in shape, "
            f"e.g. {wrong[0]})."
        )
    missing_gen = [k for k in own if not k.startswith("disc.") and k not in loadable]
    if len(missing_gen) > len([k for k in own if not k.startswith("disc.")]) // 2:
        raise BaseModelError(f"{base.checkpoint} does not look like a VITS checkpoint ({len(missing_gen)} generator tensors missing).")
    return loadable, {
        "tensors": len(loadable),
        "symbols_kept": kept,
        "symbols_new": new,
        "fresh_generator_tensors": len(missing_gen),
        "fresh_discriminator_tensors": sum(1 for k in own if k.startswith("disc.") and k not in loadable),
    }


def _modern_weight_norm_keys(weights: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Rename old-style weight-norm tensors (``weight_g``/``weight_v``, Coqui's released models) to
    the ``parametrizations.weight.original0/1`` names of current torch, where the model has those."""
    out = dict(weights)
    for k in list(weights):
        for old, new in ((".weight_g", ".parametrizations.weight.original0"), (".weight_v", ".parametrizations.weight.original1")):
            if k.endswith(old):
                renamed = k[: -len(old)] + new
                if renamed in own and renamed not in out:
                    out[renamed] = out.pop(k)
    return out


def _base_symbol_ids(config_of_base: VitsConfig) -> dict[str, int]:
    """Symbol → row of the base's embedding, from the base's character settings.

    Only the base's characters class is built (not its tokenizer, which would start the
    base's own phonemizer, e.g. a system espeak). An unreadable setting gives an empty
    map: the embedding then starts fresh.
    """
    chars = config_of_base.characters
    if chars is None:
        return {}
    klass_path = str(getattr(chars, "characters_class", "") or "")
    if klass_path.endswith(".PiperCharacters"):
        return {s: i for i, s in enumerate(piper_symbols())}
    try:
        from TTS.utils.generic_utils import import_class

        klass = import_class(klass_path) if klass_path else BaseCharacters
        characters, _ = klass.init_from_config(config_of_base)
        vocab = list(characters.vocab)
    except Exception:  # an old or exotic characters class
        return {}
    ids = {s: i for i, s in enumerate(vocab) if isinstance(s, str) and len(s) == 1}
    blank = getattr(characters, "blank", None)
    if config_of_base.add_blank and blank in vocab:
        ids[PAD] = vocab.index(blank)  # Piper's pad is the interspersed blank
    for ours, theirs in ((BOS, getattr(characters, "bos", None)), (EOS, getattr(characters, "eos", None))):
        if theirs and theirs in vocab:
            ids[ours] = vocab.index(theirs)
    return ids
