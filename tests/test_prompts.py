"""Prompt scripts: the shipped English script, its diphone coverage, messages, builder, CLI."""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest
import typer
from typer.testing import CliRunner

from tests.helpers.scripts import load_script as load_dev_script
from voicebank.bank.prompts import (
    CHECKPOINTS,
    Script,
    coverage_curve,
    coverage_of,
    diphones_of,
    greedy_order,
    list_message_lists,
    list_scripts,
    load_messages,
    load_script,
    open_script,
    split_phones,
    tokenize_ipa,
)
from voicebank.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
POOL = REPO / "scripts" / "data" / "prompt_pool_en.txt"
CLEAN_TEXT = re.compile(r"[A-Z][A-Za-z ,.'?!;:-]*[.?!]")


def _builder() -> ModuleType:
    return load_dev_script("build_prompt_script")


def _cli_app() -> typer.Typer:
    try:
        from voicebank.cli.prompts import app
    except ModuleNotFoundError:  # a bare checkout, without `pip install -e .`
        sys.path.insert(0, str(REPO))
        from cli.prompts import app
    return app


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


# --- the shipped script ------------------------------------------------------------


def test_script_has_1000_plus_prompts_in_recording_order() -> None:
    prompts = load_script()
    assert len(prompts) >= 1000
    assert [p.id for p in prompts] == [f"s{i:04d}" for i in range(1, len(prompts) + 1)]
    assert {p.kind for p in prompts} == {"script"}
    texts = [_normalized(p.text) for p in prompts]
    assert len(set(texts)) == len(texts), "two prompts say the same thing"


def test_prompt_texts_are_short_and_plain() -> None:
    lengths = []
    for prompt in load_script():
        assert CLEAN_TEXT.fullmatch(prompt.text), prompt.text
        assert not re.search(r"\d", prompt.text), prompt.text
        words = len(prompt.text.split())
        assert 2 <= words <= 18 and len(prompt.text) <= 100, prompt.text
        lengths.append(words)
    lengths.sort()
    median = lengths[len(lengths) // 2]
    assert 5 <= median <= 12


def test_coverage_grows_at_each_checkpoint() -> None:
    points = coverage_curve(load_script())
    assert [p.prompts for p in points] == list(CHECKPOINTS)
    fractions = [p.fraction for p in points]
    assert fractions == sorted(fractions)
    assert fractions[0] < fractions[1] < fractions[2]  # still climbing up to 300
    assert fractions[0] > 0.35 and fractions[-1] > 0.75
    assert all(0.0 < p.weighted <= 1.0 and p.weighted >= p.fraction for p in points)
    assert len({p.total for p in points}) == 1 and points[0].total > 1000


def test_first_50_prompts_beat_random_draws() -> None:
    prompts = load_script()
    greedy = coverage_curve(prompts[:50], (50,))[0].fraction
    rng = random.Random(1234)
    random_best = max(coverage_curve(rng.sample(prompts, 50), (50,))[0].fraction for _ in range(20))
    assert greedy > random_best + 0.05


def test_shipped_order_is_greedy() -> None:
    """Each prompt adds no more new diphones than the one before it (greedy order)."""
    script = open_script()
    denominator = script.denominator.diphones
    covered: set[tuple[str, str]] = set()
    gains = []
    for prompt in script.prompts:
        new = (script.diphones(prompt.id) & denominator) - covered
        gains.append(len(new))
        covered |= new
    assert gains[0] > 20
    assert all(a >= b for a, b in zip(gains, gains[1:]))
    saturated = gains.index(0)
    assert 300 < saturated < len(gains), "late prompts still add diphones: order is not greedy"


def test_coverage_of_recorded_ids() -> None:
    ids = [p.id for p in load_script()]
    at_150 = coverage_curve(load_script()[:150], (150,))[0].fraction
    assert coverage_of(ids[:150]) == pytest.approx(at_150)
    noisy = list(reversed(ids[:150])) + ["m0001", "u0007", ids[3]]
    assert coverage_of(noisy) == pytest.approx(at_150)
    assert coverage_of([]) == 0.0
    assert coverage_of(ids[:10]) < coverage_of(ids[:11])
    assert coverage_of(ids) <= 1.0


def test_checkpoint_past_the_end_reports_the_whole_list() -> None:
    prompts = load_script()[:40]
    point = coverage_curve(prompts, (50,))[0]
    assert point.prompts == 40
    assert point.covered == coverage_curve(prompts, (40,))[0].covered


def test_denominator_is_documented_and_large() -> None:
    script = open_script("en-core")
    den = script.denominator
    assert "/usr/share/dict/words" in den.description and "espeak-ng" in den.description
    assert den.words > 50_000
    assert len(den.counts) > 1000 and min(den.counts.values()) >= 1
    assert ("#", "k") in den.counts and ("k", "æ") in den.counts


def test_shipped_script_was_built_from_this_pool() -> None:
    raw = json.loads((resources.files("voicebank.bank") / "prompts" / "en-core.json").read_text())
    assert raw["pool"]["sha256"] == hashlib.sha256(POOL.read_bytes()).hexdigest(), (
        "the pool changed: run scripts/build_prompt_script.py"
    )
    assert raw["pool"]["sentences"] == len(raw["prompts"])
    pool_texts = {_normalized(t) for t in _builder().read_pool(POOL)}
    assert {_normalized(p.text) for p in load_script()} == pool_texts


def test_unknown_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="en-core"):
        load_script("en-nothing")
    with pytest.raises(UsageError, match="en-messages"):
        load_messages("en-nothing")
    assert "en-core" in list_scripts() and "en-messages" not in list_scripts()
    assert list_message_lists() == ["en-messages"]


# --- message banking ---------------------------------------------------------------


def test_message_suggestions_load_with_categories() -> None:
    messages = load_messages()
    assert 60 <= len(messages) <= 120
    assert [m.id for m in messages] == [f"m{i:04d}" for i in range(1, len(messages) + 1)]
    assert {m.kind for m in messages} == {"message"}
    assert all(m.category for m in messages)
    assert len({m.category for m in messages}) >= 6
    assert "I love you." in [m.text for m in messages]
    assert len({m.text for m in messages}) == len(messages)
    assert not any("[" in m.text or "#" in m.text for m in messages)


# --- phones, diphones, greedy ------------------------------------------------------


def test_split_phones_groups_espeak_ipa() -> None:
    assert split_phones("tʃˈuːzɪŋ") == ["tʃ", "uː", "z", "ɪ", "ŋ"]
    assert split_phones("dʒˈɔɪ") == ["dʒ", "ɔɪ"]
    assert split_phones("bˈʌʔn̩") == ["b", "ʌ", "ʔ", "n̩"]
    assert split_phones("ɐbɹˈiːvɪʲˌeɪt") == ["ɐ", "b", "ɹ", "iː", "v", "ɪ", "eɪ", "t"]
    assert split_phones("fˈaɪɚ") == ["f", "aɪ", "ɚ"]
    assert split_phones("ˈaʊɚ") == ["aʊ", "ɚ"]
    assert split_phones("kwˈɑːsɑ̃") == ["k", "w", "ɑː", "s", "ɑ̃"]
    assert tokenize_ipa("ðə  mˈɛʒɚ, ") == [["ð", "ə"], ["m", "ɛ", "ʒ", "ɚ"]]


def test_diphones_are_word_internal_with_edges() -> None:
    assert diphones_of([["k", "æ", "t"]]) == {("#", "k"), ("k", "æ"), ("æ", "t"), ("t", "#")}
    both = diphones_of([["aɪ"], ["s", "iː"]])
    assert ("aɪ", "s") not in both  # no cross-word pairs
    assert both == {("#", "aɪ"), ("aɪ", "#"), ("#", "s"), ("s", "iː"), ("iː", "#")}


def test_greedy_order_takes_most_new_units_first() -> None:
    sets = [{"a"}, {"a", "b", "c"}, {"d"}, {"b", "c"}, set()]
    assert greedy_order(sets) == [1, 2, 3, 0, 4]  # then {b, c} and {a} count again
    # Equal gains: the smaller tie key wins (shorter sentence first).
    assert greedy_order([{"a"}, {"b"}], tie_keys=[(9,), (3,)]) == [1, 0]
    # After full coverage, units seen only once count again.
    assert greedy_order([{"a", "b"}, {"a"}, {"a", "b", "c"}]) == [2, 0, 1]
    with pytest.raises(ValueError):
        greedy_order([{"a"}], tie_keys=[])


# --- builder -----------------------------------------------------------------------


def test_builder_refuses_a_bad_pool(tmp_path: Path) -> None:
    builder = _builder()
    pool = tmp_path / "pool.txt"
    pool.write_text(
        "# comment\n\nWe met at seven.\nWe met at 7.\nwe met at seven!\n"
        "Too short\nThis one is fine, isn't it?\n" + " ".join(["Word"] * 19) + ".\n",
        encoding="utf-8",
    )
    with pytest.raises(builder.PoolError) as info:
        builder.read_pool(pool)
    flagged = re.findall(r"^line (\d+): (\S+)", str(info.value), re.M)
    assert flagged == [
        ("4", "odd"),  # a digit
        ("5", "odd"),  # starts in lower case
        ("5", "repeats"),  # same words as line 3
        ("6", "odd"),  # no final punctuation
        ("8", "19"),  # too many words
    ]


def test_builder_orders_and_round_trips(tmp_path: Path) -> None:
    builder = _builder()
    pytest.importorskip("piper.espeakbridge")
    pool = tmp_path / "pool.txt"
    pool.write_text("The dog sat.\nA big brown dog chased the cat.\nThe cat sat.\n", "utf-8")
    words = tmp_path / "words"
    words.write_text("cat\ndog\nsat\nbrown\nxiv\ncf\nAnna\nchased\n", "utf-8")
    built = builder.build(pool, words)
    script = Script.from_dict(json.loads(builder.to_json(built)))
    assert [p.text for p in script.prompts][0] == "A big brown dog chased the cat."
    assert script.denominator.words == 5  # xiv, cf and Anna are not counted
    assert script.coverage_curve([p.id for p in script.prompts], (1, 3))[1].fraction == 1.0


def test_stored_phones_match_espeak() -> None:
    builder = _builder()
    pytest.importorskip("piper.espeakbridge")
    espeak = builder.Espeak("en-us")
    script = open_script()
    for prompt in random.Random(7).sample(script.prompts, 25):
        assert tuple(map(tuple, tokenize_ipa(espeak.ipa(prompt.text)))) == script.phones[prompt.id]


# --- CLI ---------------------------------------------------------------------------


def test_cli_coverage_prints_the_four_checkpoints() -> None:
    result = CliRunner().invoke(_cli_app(), ["coverage"])
    assert result.exit_code == 0, result.output
    points = coverage_curve(load_script())
    rows = [line.split() for line in result.output.splitlines()]
    for n, point in zip(CHECKPOINTS, points):
        row = next(r for r in rows if r and r[0] == str(n))
        assert f"{point.fraction:.1%}" in row and str(point.covered) in row
    assert "/usr/share/dict/words" in result.output
    assert f"{points[0].total} diphones" in result.output


def test_cli_coverage_json() -> None:
    result = CliRunner().invoke(_cli_app(), ["coverage", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["checkpoint"] for c in data["checkpoints"]] == list(CHECKPOINTS)
    assert data["checkpoints"][1]["covered"] == coverage_curve(load_script(), (150,))[0].covered
    assert data["denominator"]["diphones"] == len(open_script().denominator.counts)


def test_cli_list_pages_through_script_and_messages() -> None:
    runner = CliRunner()
    result = runner.invoke(_cli_app(), ["list", "--start", "2", "--limit", "3"])
    assert result.exit_code == 0, result.output
    listed = [line.split("  ", 1) for line in result.output.splitlines() if line.startswith("s")]
    expected = load_script()[1:4]
    assert listed == [[p.id, p.text] for p in expected]

    result = runner.invoke(_cli_app(), ["list", "--messages", "--limit", "0"])
    assert result.exit_code == 0, result.output
    assert sum(line.startswith("m0") for line in result.output.splitlines()) == len(load_messages())
    assert "[Greetings]" in result.output

    result = runner.invoke(_cli_app(), ["list", "--script", "en-nothing"])
    assert result.exit_code == 2 and "en-core" in result.output
