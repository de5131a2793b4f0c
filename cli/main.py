"""Entry point of the ``voicebank`` command: mounts the command groups, turns errors into messages."""

from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path

import typer

from . import bank as bank_cmd
from . import bench as bench_cmd
from . import consent as consent_cmd
from . import lexicon as lexicon_cmd
from . import narrate as narrate_cmd
from . import prompts as prompts_cmd
from . import record as record_cmd
from . import serve as serve_cmd
from . import speak as speak_cmd
from . import train as train_cmd
from . import verify as verify_cmd
from . import voice as voice_cmd

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
app.add_typer(prompts_cmd.app, name="prompts")
record_cmd.register(app)
app.add_typer(lexicon_cmd.app, name="lexicon")
speak_cmd.register(app)
narrate_cmd.register(app)
train_cmd.register(app)
serve_cmd.register(app)
voice_cmd.register(app)
verify_cmd.register(app)
app.add_typer(bench_cmd.app, name="bench")
consent_cmd.register(app)


# the operating system's errors a person can act on: the library should have named them (a
# StorageError); one that slipped through still gets words here, not "something went wrong"
_WORLD_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR})


def main() -> None:
    """Run the CLI; a VoicebankError becomes one clear line on stderr and exit code 2."""
    from voicebank.errors import VoicebankError

    try:
        app()
    except VoicebankError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in _WORLD_ERRNOS and not os.environ.get("VOICEBANK_DEBUG"):
            from voicebank.durable import storage_error

            _fail(storage_error(exc, Path(exc.filename or "a file")))
        _bug(exc)


def _fail(exc: BaseException) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    sys.exit(getattr(exc, "exit_code", 2))


def _bug(exc: BaseException) -> None:
    """A bug: keep the user's screen readable, keep the details (exit code 3)."""
    if os.environ.get("VOICEBANK_DEBUG"):
        raise exc
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
