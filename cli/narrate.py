"""``voicebank narrate BOOK``: a book (EPUB, Markdown, TXT) or an edited script → a checked, resumable audiobook."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from voicebank.audiobook.plan import NarrationSettings
    from voicebank.audiobook.progress import NarrationEvent


def narrate(
    book: Path = typer.Argument(..., help="The book: .epub, .md, .txt, or a script made with --export-text."),
    voice: str = typer.Option("joe", "--voice", "-v", help="The voice: 'joe' (stock), a registry name, a voice folder or an .onnx file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: ./BOOKNAME-audiobook). Rerun with the same folder to resume."),
    export_text: Optional[Path] = typer.Option(None, "--export-text", help="Write the text as it will be read (an editable script) to this file, then stop."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print chapters, words, estimated audio length and run time; synthesize nothing."),
    formats: str = typer.Option("m4b", "--format", "-f", help="Comma-separated: m4b (one audiobook with chapters) and/or mp3 or opus (a file per chapter)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Worker processes (default: one per CPU; each engine uses one thread)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run chunks on a Ray cluster: 'auto' or its address. Needs voicebank[ray] and a --cache every node can see."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Chunk cache folder (default: OUT/cache). Share one between runs or machines."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A lexicon JSON for this book; its entries win over the voice's."),
    replace: Optional[Path] = typer.Option(None, "--replace", help="Regex replacements, PATTERN<TAB>REPLACEMENT a line, applied before normalization."),
    pause_sentence: float = typer.Option(0.35, "--pause-sentence", min=0, max=30, help="Seconds of room tone after a sentence."),
    pause_paragraph: float = typer.Option(0.8, "--pause-paragraph", min=0, max=30, help="Seconds after a paragraph."),
    pause_heading: float = typer.Option(1.0, "--pause-heading", min=0, max=30, help="Seconds after a heading."),
    pause_chapter: float = typer.Option(2.0, "--pause-chapter", min=0, max=30, help="Seconds at a chapter's end."),
    front_matter: bool = typer.Option(False, "--front-matter/--no-front-matter", help="Read the title page, copyright, contents and dedication."),
    back_matter: bool = typer.Option(False, "--back-matter/--no-back-matter", help="Read acknowledgments, index, about the author."),
    notes: bool = typer.Option(False, "--notes/--no-notes", help="Read footnotes and endnotes at the end of their chapter."),
    watermark: bool = typer.Option(True, "--watermark/--no-watermark", help="Mark the audio (inaudibly) as synthetic speech."),
    seed: int = typer.Option(0, "--seed", min=0, help="Synthesis seed: the same seed gives the same audio."),
    length_scale: Optional[float] = typer.Option(None, "--length-scale", min=0.3, max=3.0, help="Above 1 reads slower, below 1 faster (default: the voice's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (or the dry run) as JSON."),
) -> None:
    """Narrate a whole book in a voice: chapters → checked sentences → an M4B with chapter marks.

    Every sentence is synthesized once into a cache, checked (silence, clipping, implausible length, a word match) and synthesized again with another seed if it fails; a sentence that never passes is kept and listed in OUT/report.md, never dropped. Stop it any time (Ctrl-C, a crash, a power cut): run the same command again and it goes on where it stopped, with the same audio.

    What is read: the chapters in reading order; front and back matter and notes only when asked. OUT/report.md accounts for every character of the book: read, or skipped with the reason.

    Examples:

      voicebank narrate book.epub --dry-run

      voicebank narrate book.epub --voice my-voice --out book-audio

      voicebank narrate book.epub --export-text book.txt    # fix a line, then:

      voicebank narrate book.txt --voice my-voice --format m4b,mp3

      voicebank narrate book.epub --ray auto --cache /shared/voicebank-cache
    """
    from voicebank.audiobook.narrate import load_script, narrate as run

    settings = _settings(voice, formats, pause_sentence, pause_paragraph, pause_heading, pause_chapter,
                         front_matter, back_matter, notes, watermark, seed, length_scale)  # fmt: skip
    out_dir = out or Path(f"{book.stem}-audiobook")
    if export_text is not None or dry_run:
        script = load_script(book, settings, lexicon=lexicon, replacements=replace)
        if export_text is not None:
            from voicebank.audiobook.script import write_script

            write_script(script, export_text)
            typer.echo(f"Wrote the script to {export_text}. Edit it, then: voicebank narrate {export_text}")
        if dry_run:
            _dry_run(script, settings, cache or out_dir / "cache", workers, as_json)
        return
    bars = Bars(as_json)
    try:
        with bars:
            result = run(book, settings, out_dir, ray=ray, workers=workers, progress=bars.event,
                         cache_dir=cache, lexicon=lexicon, replacements=replace)  # fmt: skip
    except KeyboardInterrupt as stop:
        done, total = getattr(stop, "done", bars.done), getattr(stop, "total", bars.total)
        typer.echo(f"\nStopped: {done} of {total} sentences are done and kept. "
                   "Run the same command again to go on from there.", err=True)  # fmt: skip
        raise typer.Exit(130) from None
    _summary(result, as_json)


def _settings(voice: str, formats: str, ps: float, pp: float, ph: float, pc: float, front: bool, back: bool,
              notes: bool, watermark: bool, seed: int, length_scale: Optional[float]) -> NarrationSettings:  # fmt: skip
    from voicebank.audiobook.plan import NarrationSettings

    fmts = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    return NarrationSettings(voice=voice, pause_sentence=ps, pause_paragraph=pp, pause_heading=ph, pause_chapter=pc,
                             front_matter=front, back_matter=back, notes=notes, watermark=watermark, seed=seed,
                             length_scale=length_scale, formats=fmts)  # fmt: skip


def _dry_run(script: Any, settings: NarrationSettings, cache: Path, workers: Optional[int], as_json: bool) -> None:
    from voicebank.audiobook.narrate import estimate

    est = estimate(script, settings, cache, workers)
    if as_json:
        typer.echo(json.dumps(est, indent=2))
        return
    typer.echo(f"{script.title}" + (f" by {script.author}" if script.author else ""))
    for i, c in enumerate(est["chapters"], 1):
        typer.echo(f"  {i:>3}. {c['title'][:60]:<60} {c['words']:>7} words  {_clock(c['seconds'])}")
    typer.echo(f"{est['words']} words in {len(est['chapters'])} chapters: about {_clock(est['seconds'])} of audio.")
    typer.echo(f"{est['chunks']} sentences to synthesize ({est['cached']} already done); about "
               f"{_clock(est['run_seconds'])} with {est['workers']} worker(s) on this machine.")  # fmt: skip


def _summary(result: Any, as_json: bool) -> None:
    report = result.report
    if as_json:
        typer.echo(json.dumps({"out": str(result.out_dir), "report": str(result.report_json), **report}, indent=2))
        return
    chunks, chars = report["chunks"], report["characters"]
    typer.echo(f"Done: {len(report['chapters'])} chapters, {_clock(chunks['audio_s'])} of speech "
               f"({chunks['already_done']} sentences were already done, {chunks['synthesized']} made now).")  # fmt: skip
    if result.m4b:
        typer.echo(f"Audiobook: {result.m4b}")
    if result.chapter_files:
        typer.echo(f"Chapter files: {result.chapter_files[0].parent}/ ({len(result.chapter_files)} files)")
    for acx in report.get("acx", []):
        verdict = "passes" if acx.get("passes") else "FAILS (see the report)"
        typer.echo(f"ACX check of {Path(acx['file']).name}: {verdict}")
    if chunks["failed"]:
        typer.secho(f"{chunks['failed']} sentence(s) failed their checks after every retry; they are listed in "
                    f"{result.report_md}. Listen to them, fix their lines with --export-text, and rerun.",
                    fg=typer.colors.YELLOW)  # fmt: skip
    state = "every one accounted for" if chars["accounted"] else "NOT all accounted for (see the report)"
    typer.echo(f"Characters: {chars['read']} read, {chars['skipped']} skipped with a reason, {state}.")
    typer.echo(f"Report: {result.report_md}")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Bars:
    """Progress on stderr: an overall bar and one per chapter in progress, each with an ETA (plain lines off a terminal)."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self.done = self.total = 0
        self._left: dict[int, int] = {}
        self._tasks: dict[int, Any] = {}
        self._titles: dict[int, str] = {}
        self._progress: Any = None
        self._overall: Any = None
        self._started = time.monotonic()

    def __enter__(self) -> Bars:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=self.console)  # fmt: skip
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def event(self, event: NarrationEvent) -> None:
        if event.kind == "planned":
            self._planned(event)
        elif event.kind == "chunk" and event.outcome is not None:
            self._chunk(event.outcome.chapter)
        elif event.kind == "stage" and event.stage in ("assemble", "encode", "report"):
            self._say(f"{event.stage.capitalize()}…" if event.stage != "report" else "Writing the report…")

    def _planned(self, event: NarrationEvent) -> None:
        self.total, self.done = event.total, event.cached
        if event.cached:
            self._say(f"Resuming: {event.cached} of {event.total} sentences already done.")
        for i, c in enumerate(event.chapters):
            self._titles[i] = c.title
            self._left[i] = c.total - c.cached
        if self._progress is not None:
            self._overall = self._progress.add_task("Book", total=event.total, completed=event.cached)
            for i, c in enumerate(event.chapters):
                self._tasks[i] = self._progress.add_task(f"  {c.title[:40]}", total=c.total, completed=c.cached,
                                                         visible=False)  # fmt: skip

    def _chunk(self, chapter: int) -> None:
        self.done += 1
        self._left[chapter] = self._left.get(chapter, 1) - 1
        if self._progress is not None:
            self._progress.advance(self._overall)
            task = self._tasks.get(chapter)
            if task is not None:
                self._progress.update(task, advance=1, visible=self._left[chapter] > 0)
        elif self._left[chapter] == 0 and not self.quiet:
            rate = self.done / max(1e-6, time.monotonic() - self._started)
            self._say(f"Chapter {chapter + 1} synthesized ({self.done}/{self.total} sentences, {rate:.1f}/s): "
                      f"{self._titles.get(chapter, '')}")  # fmt: skip

    def _say(self, text: str) -> None:
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.console.print(text, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("narrate")(narrate)

