"""``voicebank train ...``: bank → dataset → fine-tune → evaluate → export.

Each step lives in its own small CLI module (``train_*.py``) that registers its commands
on this group; the work itself is in ``voicebank.train``.
"""

from __future__ import annotations

import typer

from . import train_average, train_base, train_eval, train_export, train_finetune, train_instant, train_prepare

app = typer.Typer(
    help=(
        "Make a voice from your bank: prepare a dataset, fine-tune a model (on a plain CPU, or faster on a GPU), "
        "evaluate it against your real recordings, and export it for fast offline speech.\n\n"
        "Typical use on a CPU (nothing downloaded):\n\n"
        "  voicebank train prepare ~/my-voice ~/my-voice-data\n\n"
        "  voicebank train instant ~/my-voice-data --out ~/voices/me-instant\n\n"
        "  (a first voice in minutes, without training, while the trained one is made; which of the two "
        "sounds more like you differs from person to person, so score both with train eval: docs/instant-voice.md)\n\n"
        "  voicebank train base build\n\n"
        "  voicebank train finetune --recipe vits-offline --dataset ~/my-voice-data --out ~/voices/me\n\n"
        "  voicebank train export ~/voices/me --out ~/voices/me-onnx\n\n"
        "  voicebank train eval ~/voices/me-onnx --dataset ~/my-voice-data --repeats 3\n\n"
        "With 15 minutes of speech or more, train that voice further: train finetune --recipe vits-offline-more --base ~/voices/me "
        "--dataset ~/my-voice-data --out ~/voices/me-more (two runs, averaged into one voice). "
        "On a GPU with a downloaded base: train finetune --recipe vits --base BASE (train base list shows what is found)."
    ),
    no_args_is_help=True,
)

for _step in (train_prepare, train_finetune, train_average, train_instant, train_eval, train_export, train_base):
    _step.register(app)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="train")
