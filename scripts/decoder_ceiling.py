"""Where a trained VITS voice loses likeness: its decoder, its timing, or its text prior.

Run from the repository root with the project's venv::

    .venv/bin/python scripts/decoder_ceiling.py VOICE DATASET [--takes 2] [--threads 2] [--json OUT]

VOICE is a voice folder made by ``voicebank train finetune`` (or one of its ``checkpoint_N.pth``
files); DATASET the prepared dataset it was trained on. Each held-out recording is spoken three
ways by the voice as trained (strength 1), and every result is scored as ``train eval`` scores
(ECAPA cosine to the mean of the *other* held-out recordings):

- ``reconstructed``: the recording's own spectrogram through the posterior encoder and the
  decoder. Nothing of the text path is used, so this is as alike as the decoder can sound.
- ``real_timing``: the text's prior, stretched by the alignment of the recording (monotonic
  alignment search, as in training), through the flow and the decoder: the voice with the
  person's own timing.
- ``spoken``: the text alone, as the voice speaks new sentences (the recipe's noise settings).

``real`` is the recordings' own score. The gap between ``spoken`` and ``reconstructed`` is what a
better text path (durations, pitch, the flow) could still win; the gap between ``reconstructed``
and ``real`` is the decoder's. This is a developer's probe (it needs the training extra and the
ECAPA weights); its findings are in docs/offline-voice.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

WAYS = ("reconstructed", "real_timing", "spoken")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("voice", type=Path, help="voice folder (or a checkpoint_N.pth of its run)")
    parser.add_argument("dataset", type=Path, help="the prepared dataset (its held-out recordings are used)")
    parser.add_argument("--takes", type=int, default=2, help="takes per sentence and way (they differ in their noise)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = probe(args.voice, args.dataset, takes=args.takes, threads=args.threads)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


def probe(voice: Path, dataset: Path, *, takes: int = 2, threads: int = 2) -> dict:
    """Mean ECAPA similarity (with a bootstrap 95 % interval) of each way of speaking, and the recordings'."""
    import torch

    from voicebank.audio import read_audio, to_mono
    from voicebank.train import vits
    from voicebank.train.bootstrap import mean_interval
    from voicebank.train.dataset_files import load_dataset
    from voicebank.train.speaker_verify import EcapaVerifier, cosine, mean_unit

    torch.set_num_threads(threads)
    model, sample_rate, espeak_voice, inference = _load(voice)
    utts = load_dataset(dataset).eval
    if len(utts) < 2:
        raise SystemExit(f"{dataset} holds {len(utts)} held-out recording(s); the leave-one-out score needs 2 or more.")
    verifier = EcapaVerifier(threads=threads)
    real_embeddings, spoken = [], {way: [] for way in WAYS}
    for i, (utt, ids) in enumerate(zip(utts, vits.text_ids([u.normalized or u.text for u in utts], espeak_voice))):
        data, rate = read_audio(utt.wav)
        samples = to_mono(data).astype(np.float32)
        if rate != sample_rate:
            raise SystemExit(f"{utt.wav} is {rate} Hz; the voice speaks at {sample_rate} Hz (use the dataset it was trained on).")
        real_embeddings.append(verifier.embed(samples, rate))
        for way in WAYS:
            audio = [_speak(model, way, ids, samples, inference, seed=1000 * (t + 1) + i) for t in range(takes)]
            spoken[way].append([verifier.embed(a, rate) for a in audio])
        print(f"{i + 1}/{len(utts)} {utt.id}", file=sys.stderr, flush=True)
    references = [mean_unit([e for j, e in enumerate(real_embeddings) if j != i]) for i in range(len(utts))]

    def summary(groups: list[list[float]]) -> dict:
        flat = [s for g in groups for s in g]
        low_high = mean_interval(groups)
        return {"mean": round(float(np.mean(flat)), 4), "ci95": [round(x, 4) for x in low_high] if low_high else None}

    out = {"voice": str(voice), "dataset": str(dataset), "held_out": len(utts), "takes": takes,
           "real": summary([[cosine(e, r)] for e, r in zip(real_embeddings, references)])}
    for way in WAYS:
        out[way] = summary([[cosine(e, r) for e in embs] for embs, r in zip(spoken[way], references)])
    return out


def _load(voice: Path):
    """The trainable model with ``voice``'s weights (eval mode), its sample rate, espeak voice and inference settings."""
    import torch

    from voicebank.train import vits
    from voicebank.train.recipes import InferenceSettings

    model_path = voice if voice.suffix == ".pth" else voice / "model.pth"
    config = vits.load_config(model_path.parent / "config.json")
    config.model_args.init_discriminator = False
    model = vits.make_model(config)
    state = torch.load(str(model_path), map_location="cpu", weights_only=False)
    weights = {k: v for k, v in state["model"].items() if not k.startswith("disc.")}
    model.load_state_dict(weights, strict=True)
    model.eval()
    recipe = _recipe(model_path)
    given = (state.get("voicebank") or {}).get("inference") or recipe.get("inference") or {}
    inference = {k: float(given.get(k, v)) for k, v in InferenceSettings().scales().items()}  # Piper's where not given
    return model, int(config.audio.sample_rate), str(recipe.get("espeak_voice") or "en-us"), inference


def _recipe(model_path: Path) -> dict:
    """The recipe the voice was trained with (a checkpoint sits in VOICE/checkpoints/RUN/)."""
    from voicebank.voice.training_record import read_training_record

    for folder in list(model_path.parents)[:3]:
        record = read_training_record(folder)
        if record is not None:
            return record.get("recipe") or {}
    return {}


def _speak(model, way: str, ids: list[int], samples: np.ndarray, inference: dict[str, float], *, seed: int) -> np.ndarray:
    """One take of ``way`` (see the module docstring) as float samples at the model's rate."""
    import torch
    from TTS.tts.models.vits import wav_to_spec

    from voicebank.train.piper_import import coqui_speak

    noise_scale = inference["noise_scale"]
    torch.manual_seed(seed)
    if way == "spoken":
        return coqui_speak(model, ids, noise_scale=noise_scale, noise_scale_dp=inference["noise_w"],
                           length_scale=inference["length_scale"])
    ac = model.config.audio
    with torch.no_grad():
        spec = wav_to_spec(torch.from_numpy(samples)[None, None], ac.fft_size, ac.hop_length, ac.win_length, center=False)
        spec_lengths = torch.LongTensor([spec.shape[2]])
        z, _, _, y_mask = model.posterior_encoder(spec, spec_lengths, g=None)
        if way == "real_timing":
            x = torch.LongTensor(ids)[None]
            hidden, m_p, logs_p, x_mask = model.text_encoder(x, torch.LongTensor([x.shape[1]]))
            _, attn = model.forward_mas({}, model.flow(z, y_mask, g=None), m_p, logs_p, hidden, x_mask, y_mask, g=None, lang_emb=None)
            m_p = torch.einsum("klmn, kjm -> kjn", [attn, m_p])
            logs_p = torch.einsum("klmn, kjm -> kjn", [attn, logs_p])
            z_p = (m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale) * y_mask
            z = model.flow(z_p, y_mask, g=None, reverse=True)
        return model.waveform_decoder(z * y_mask).squeeze().numpy()


if __name__ == "__main__":
    sys.exit(main())
