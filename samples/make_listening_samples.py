"""Make the listening samples in samples/listen/: the stock voice speaking a sentence and narrating a passage.

Run from the repository root after installing voicebank with the speak and narrate extras:

    python samples/make_listening_samples.py            # writes samples/listen/*.opus
    python samples/make_listening_samples.py --out DIR  # somewhere else

Each sample is made by the commands a user runs (``voicebank speak --out``, ``voicebank
narrate``) and then encoded as mono Opus at 24 kbit/s with ffmpeg, so the files stay small
enough to keep in the repository and a newcomer can hear the voice before installing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOK = HERE / "book" / "the-lighthouse-keeper.md"
SPEAK_TEXT = (
    "Hello, this is the stock voice of voicebank. "
    "The appointment is at 3:30 pm on March 3rd, and the taxi costs $12.50."
)
PASSAGE_PARAGRAPHS = 2  # of the sample book's first chapter


def voicebank(*args: str) -> None:
    """Run a voicebank command as a user would (the same Python as this script)."""
    subprocess.run([sys.executable, "-m", "voicebank.cli.main", *args], check=True)


def to_opus(wav: Path, out: Path, bitrate: str) -> None:
    """Encode mono Opus (speech tuning) with ffmpeg, replacing ``out`` only when done."""
    tmp = out.with_suffix(".part.opus")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ac", "1", "-c:a", "libopus", "-b:a", bitrate,
         "-application", "voip", "-map_metadata", "-1", str(tmp)],
        check=True,
    )
    tmp.replace(out)


def passage(book: Path, paragraphs: int) -> str:
    """The front matter block and the first chapter's heading and first paragraphs, as Markdown."""
    text = book.read_text(encoding="utf-8")
    meta_end = text.index("---", 3) + 3
    chapter = text.index("# Chapter One")
    blocks = [b for b in text[chapter:].split("\n\n") if b.strip()]
    return text[:meta_end] + "\n\n" + "\n\n".join(blocks[: 1 + paragraphs]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "listen", help="folder for the .opus files")
    parser.add_argument("--voice", default="joe", help="voice to record (default: the stock voice)")
    parser.add_argument("--bitrate", default="24k", help="Opus bitrate (default 24k)")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is needed to encode Opus: install it (Debian: apt-get install ffmpeg).", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        voicebank("speak", SPEAK_TEXT, "--voice", args.voice, "--out", str(tmp / "speak.wav"))
        to_opus(tmp / "speak.wav", args.out / "speak.opus", args.bitrate)
        source = tmp / "passage.md"
        source.write_text(passage(BOOK, PASSAGE_PARAGRAPHS), encoding="utf-8")
        voicebank("narrate", str(source), "--voice", args.voice, "--out", str(tmp / "narrated"))
        chapters = sorted((tmp / "narrated" / "pcm").glob("*.wav"))
        if not chapters:
            print("The narration wrote no chapter audio.", file=sys.stderr)
            return 1
        to_opus(chapters[0], args.out / "narrate.opus", args.bitrate)
    for path in sorted(args.out.glob("*.opus")):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
