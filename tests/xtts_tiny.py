"""Make a tiny, randomly initialised XTTS "base model" folder for tests (the real weights are 1.9 GB).

    python tests/xtts_tiny.py OUT [--train]

writes ``OUT/config.json``, ``model.pth``, ``vocab.json`` (a character tokenizer with XTTS's
special tokens) and, with ``--train``, ``dvae.pth`` and ``mel_stats.pth`` — the same files
as XTTS-v2, in the same formats, so every code path that loads the real model loads this
one. The GPT has one layer of width 32; the HiFi-GAN decoder and speaker encoder have
Coqui's fixed sizes (XTTS does not make them configurable). The GPT's stop token is
disabled so a random model always talks for ``max_audio_tokens`` tokens (deterministic
chunk counts). It speaks noise.
"""

from __future__ import annotations

import sys
from pathlib import Path

SPECIAL = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]"]  # XTTS: [STOP]=0, [UNK]=1
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()")
AUDIO_TOKENS = 66  # 64 DVAE codes + start + stop (XTTS-v2: 1024 + 2)


def make_tiny_xtts(out: Path, *, train: bool = False, max_audio_tokens: int = 48, max_text_tokens: int = 120) -> Path:
    import torch
    from tokenizers import Tokenizer, models
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    vocab = {t: i for i, t in enumerate(SPECIAL + CHARS)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.add_special_tokens(SPECIAL)
    tok.save(str(out / "vocab.json"))

    args = XttsArgs(
        gpt_layers=1,
        gpt_n_model_channels=32,
        gpt_n_heads=2,
        gpt_max_audio_tokens=max_audio_tokens,
        gpt_max_text_tokens=max_text_tokens,
        gpt_num_audio_tokens=AUDIO_TOKENS,
        gpt_start_audio_token=AUDIO_TOKENS - 2,
        gpt_stop_audio_token=AUDIO_TOKENS - 1,
        gpt_use_perceiver_resampler=True,
        decoder_input_dim=32,
    )
    config = XttsConfig(model_args=args, languages=["en"], gpt_cond_len=6, gpt_cond_chunk_len=3, max_ref_len=6)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(str(out / "vocab.json"))
    model.init_models()
    with torch.no_grad():
        model.gpt.mel_head.bias[AUDIO_TOKENS - 1] = -1e4  # never stop: fixed-length noise
    torch.save({"model": model.state_dict()}, str(out / "model.pth"))
    config.save_json(str(out / "config.json"))
    if train:
        from TTS.tts.layers.xtts.dvae import DiscreteVAE

        dvae = DiscreteVAE(
            channels=80, normalization=None, positional_dims=1, num_tokens=AUDIO_TOKENS - 2, codebook_dim=512,
            hidden_dim=512, num_resnet_blocks=3, kernel_size=3, num_layers=2, use_transposed_convs=False,
        )
        torch.save(dvae.state_dict(), str(out / "dvae.pth"))
        torch.save(torch.ones(80), str(out / "mel_stats.pth"))
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(make_tiny_xtts(Path(sys.argv[1]), train="--train" in sys.argv[2:]))
