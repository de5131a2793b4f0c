"""Entry point of the ``voicebank`` command: mounts the command groups, turns errors into messages."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from . import bank as bank_cmd

app = typer.Typer(
    name="voicebank",
    help=(
        "Keep your own voice: record a voice bank, make a voice from it, and speak with it offline.\n\n"
        "Start with 'voicebank bank new BANK' and 'voicebank record BANK', or bring existing "
        "recordings in with 'voicebank bank import-audio BANK FOLDER'."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(bank_cmd.app, name="bank")


def _mount_optional() -> None:
    """Mount command groups whose modules exist (each is a thin layer over the library)."""
    from ._optional import optional_module

    for name in ("prompts", "record", "lexicon", "speak", "train", "bench"):
        mod = optional_module(__package__, name)
        if mod is None:
            continue
        if hasattr(mod, "register"):
            mod.register(app)
        else:
            app.add_typer(mod.app, name=name)


_mount_optional()


def main() -> None:
    """Run the CLI; a VoicebankError becomes one clear line on stderr and exit code 2."""
    from voicebank.errors import VoicebankError

    try:
        app()
    except VoicebankError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: keep the user's screen readable, keep the details
        if os.environ.get("VOICEBANK_DEBUG"):
            raise
        from voicebank.config import data_home

        log = data_home() / "logs" / "last-error.txt"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc(), encoding="utf-8")
            where = f" Details were saved to {log}."
        except OSError:
            where = ""
        typer.secho(
            f"error: something went wrong inside voicebank ({type(exc).__name__}: {exc}).{where} "
            "Nothing you recorded was changed. Set VOICEBANK_DEBUG=1 to see the full traceback.",
            fg=typer.colors.RED,
            err=True,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
