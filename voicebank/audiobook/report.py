"""The narration report: failed chunks by chapter and sentence, every source character accounted for, ACX figures, timings.

``report.json`` is for programs (and tests); ``report.md`` is the same for a person. The
character accounting comes from the script (its chapters carry the reader's accounting):
each chapter's source characters are either read (lines that became chunks) or skipped
with a reason, and the totals must add up: ``characters.accounted`` says whether they do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1
NO_WORDS = "no words to say once split into sentences"


def build_report(script: Any, plan: Any, result: Any, *, source: str) -> dict[str, Any]:
    """The report of a finished narration (``result`` is its :class:`.narrate.NarrationResult`)."""
    outcomes = {o.key: o for o in result.outcomes}
    chapters = []
    for chapter in plan.chapters:
        failed = []
        for index, key in enumerate(chapter.keys()):
            outcome = outcomes.get(key)
            if outcome is not None and not outcome.ok:
                failed.append({"sentence": index + 1, "text": chapter.texts[index], "problems": list(outcome.problems),
                               "attempts": outcome.attempts})  # fmt: skip
        seconds = None
        if chapter.number < len(result.pcm):
            seconds = _wav_seconds(result.pcm[chapter.number])
        chapters.append({"number": chapter.number + 1, "title": chapter.title, "chunks": len(chapter.keys()),
                         "words": chapter.words(), "seconds": seconds, "failed": failed})  # fmt: skip
    n_failed = sum(len(c["failed"]) for c in chapters)
    return {
        "schema_version": SCHEMA_VERSION,
        "book": {"title": script.title, "author": script.author, "language": script.language, "source": source},
        "voice": plan.voice_id,
        "settings": plan.settings.to_dict(),
        "chapters": chapters,
        "chunks": {
            "distinct": len(plan.jobs),
            "already_done": result.already_done,
            "synthesized": result.synthesized,
            "retried": sum(1 for o in result.outcomes if o.attempts > 1),
            "failed": n_failed,
            "audio_s": round(sum(o.seconds for o in result.outcomes), 3),
        },
        "characters": accounting(script, plan),
        "acx": result.report.get("acx", []),
        "provenance": result.report.get("provenance", {}),
        "outputs": {
            "m4b": str(result.m4b) if result.m4b else None,
            "chapter_files": [str(p) for p in result.chapter_files],
            "pcm": [str(p) for p in result.pcm],
        },
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }


def accounting(script: Any, plan: Any) -> dict[str, Any]:
    """Every source character: read, or skipped with a reason; per chapter and in total."""
    rows = []
    reasons: dict[str, int] = {}
    for i, chapter in enumerate(script.chapters):
        mine = plan.read.get(i)
        read = mine[0] if mine else 0
        skipped: dict[str, int] = {}
        for piece in chapter.skipped:
            skipped[piece.reason] = skipped.get(piece.reason, 0) + piece.chars
        unread = mine[1] if mine else [(line.text, line.source_chars) for line in chapter.lines]
        for _, chars in unread:
            skipped[NO_WORDS] = skipped.get(NO_WORDS, 0) + chars
        for reason, chars in skipped.items():
            reasons[reason] = reasons.get(reason, 0) + chars
        total_skipped = sum(skipped.values())
        rows.append({"title": chapter.title, "source": chapter.source_chars, "read": read, "skipped": skipped,
                     "accounted": read + total_skipped == chapter.source_chars})  # fmt: skip
    source = sum(r["source"] for r in rows)
    read = sum(r["read"] for r in rows)
    skipped_total = sum(reasons.values())
    return {
        "source": source,
        "read": read,
        "skipped": skipped_total,
        "by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "accounted": read + skipped_total == source and all(r["accounted"] for r in rows),
        "chapters": rows,
    }


def write_report(report: dict[str, Any], json_path: Path, md_path: Path) -> None:
    """Both forms of the report, each atomically."""
    atomic_write_json(json_path, report)
    atomic_write_text(md_path, render_markdown(report))


def render_markdown(report: dict[str, Any]) -> str:
    """The report for a person: summary, chapters, failed sentences, characters, ACX, timings."""
    book, chunks, chars = report["book"], report["chunks"], report["characters"]
    out = [f"# Narration report: {book['title']}", ""]
    out.append(f"Voice {report['voice']}; {len(report['chapters'])} chapters; {chunks['distinct']} distinct chunks "
               f"({chunks['already_done']} already done, {chunks['synthesized']} synthesized now, "
               f"{chunks['retried']} retried); {_clock(chunks['audio_s'])} of speech.")  # fmt: skip
    out.append("")
    verdict = "none" if not chunks["failed"] else f"**{chunks['failed']}** (listed below; listen to them)"
    out += [f"Chunks that failed their checks: {verdict}.", "", "## Chapters", ""]
    out += ["| # | Title | Chunks | Words | Length | Failed |", "|---|---|---|---|---|---|"]
    for c in report["chapters"]:
        out.append(f"| {c['number']} | {_cell(c['title'])} | {c['chunks']} | {c['words']} | "
                   f"{_clock(c['seconds'] or 0)} | {len(c['failed'])} |")  # fmt: skip
    if chunks["failed"]:
        out += ["", "## Failed sentences (kept: the best of their takes)", ""]
        for c in report["chapters"]:
            for f in c["failed"]:
                out.append(f"- Chapter {c['number']} ({_cell(c['title'])}), sentence {f['sentence']} "
                           f"after {f['attempts']} takes: “{f['text']}” — {'; '.join(f['problems'])}")  # fmt: skip
    out += ["", "## Every character", ""]
    state = "all accounted for" if chars["accounted"] else "**NOT all accounted for**"
    out.append(f"{chars['source']} source characters: {chars['read']} read, {chars['skipped']} skipped ({state}).")
    for reason, n in chars["by_reason"].items():
        out.append(f"- skipped, {reason}: {n}")
    out += _acx_lines(report.get("acx", []))
    stamp = report.get("provenance") or {}
    if stamp:
        out += ["", "## Marked as synthetic", ""]
        out.append(f"Every file is tagged as synthetic speech read by {stamp.get('voice')} ({stamp.get('voice_id')}), "
                   "with a signed sidecar; check one with 'voicebank verify FILE'." if stamp.get("stamped")
                   else f"Not tagged: {stamp.get('note')}")  # fmt: skip
    out += ["", "## Time (seconds)", ""]
    out += [f"- {k}: {v}" for k, v in report["timings"].items()]
    return "\n".join(out) + "\n"


def _acx_lines(acx: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for file in acx:
        out += ["", f"## ACX: {Path(file['file']).name} ({'passes' if file.get('passes') else 'FAILS'})", ""]
        out += ["| Part | RMS dB | Peak dBFS | Noise floor dB | Passes |", "|---|---|---|---|---|"]
        for part in [{"title": "whole file", **file}, *file.get("chapters", [])]:
            out.append(f"| {_cell(part['title'])} | {part.get('rms_db')} | {part.get('peak_dbfs')} | "
                       f"{part.get('noise_floor_db')} | {'yes' if part.get('passes') else 'no: ' + '; '.join(part.get('reasons', []))} |")  # fmt: skip
    return out


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _wav_seconds(path: Path) -> float | None:
    try:
        import soundfile as sf

        info = sf.info(str(path))
        return round(info.frames / info.samplerate, 3)
    except Exception:  # noqa: BLE001 - a length for the report only
        return None
