"""The user lexicon: entries, matching, the JSON file, and the ``voicebank lexicon`` commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicebank.errors import CorruptFileError, UsageError, VoicebankError
from voicebank.text import PHONEME_MARKER, Lexicon, LexiconEntry, LexiconError, normalize


def _cli_app():
    try:
        from voicebank.cli.lexicon import app
    except ModuleNotFoundError:  # running from a checkout without the package installed
        from cli.lexicon import app
    return app


@pytest.fixture()
def lexicon() -> Lexicon:
    lex = Lexicon()
    lex.add("Nguyen", "Win")
    lex.add("Siobhan", "ʃɪvˈɔːn", phonemes=True)
    lex.add("Dr.", "Doc")
    return lex


@pytest.mark.parametrize(
    ("text", "applied"),
    [
        ("Nguyen called", "Win called"),
        ("NGUYEN and nguyen", "Win and Win"),
        ("Nguyen's car", "Win's car"),
        ("Nguyen-Smith", "Win-Smith"),
        ("Nguyenx stays", "Nguyenx stays"),
        ("Ask Siobhan.", "Ask [[ʃɪvˈɔːn]]."),
        ("See Dr. Who", "See Doc Who"),
        ("Dr Who keeps its built-in reading", "Dr Who keeps its built-in reading"),
    ],
)
def test_apply_matches_whole_words_case_insensitively(lexicon: Lexicon, text: str, applied: str) -> None:
    assert lexicon.apply(text) == applied


def test_phoneme_marker_is_what_the_engine_looks_for(lexicon: Lexicon) -> None:
    spoken = normalize("Siobhan, meet Nguyen.", lexicon=lexicon)
    assert spoken == "[[ʃɪvˈɔːn]], meet Win."
    assert PHONEME_MARKER.findall(spoken) == ["ʃɪvˈɔːn"]


def test_add_replaces_and_remove_forgets(lexicon: Lexicon) -> None:
    lexicon.add("nguyen", "Nwin")
    assert len(lexicon) == 3
    assert lexicon.get("NGUYEN") == LexiconEntry("nguyen", "Nwin", "respelling")
    assert lexicon.remove("Nguyen") is True
    assert lexicon.remove("Nguyen") is False
    assert "Nguyen" not in lexicon
    assert [e.word for e in lexicon.items()] == ["Dr.", "Siobhan"]


@pytest.mark.parametrize(
    ("word", "pronunciation", "phonemes", "message"),
    [
        ("Mary , Ann", "x", False, "cannot be a lexicon word"),
        ("one two three four five six seven eight nine", "x", False, "cannot be a lexicon word"),
        ("", "x", False, "cannot be a lexicon word"),
        ("-dash", "x", False, "cannot be a lexicon word"),
        ("w" * 65, "x", False, "cannot be a lexicon word"),
        ("Sam", "", False, "must be 1 to 200"),
        ("Sam", "x" * 201, False, "must be 1 to 200"),
        ("Sam", "s\x00m", False, "control characters"),
        ("Sam", "[[sam]]", True, "must not contain"),
        ("Sam", "!!!", False, "needs at least one letter"),
    ],
)
def test_bad_entries_are_refused_with_a_reason(word: str, pronunciation: str, phonemes: bool, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        Lexicon().add(word, pronunciation, phonemes=phonemes)


PHRASES = [
    ("Mary Ann called.", "Marianne called."),
    ("MARY   ANN's car", "Marianne's car"),
    ("Mary and Ann", "Maria and Anna"),
    ("Mary Annabel", "Maria Annabel"),
    ("I love New York City!", "I love the big apple!"),
    ("New York is big.", "New York is big."),
    ("Ask St. Mary's Hospital.", "Ask Saint Marys Hospital."),
]


@pytest.mark.parametrize(("text", "applied"), PHRASES)
def test_phrases_match_longest_first_in_any_spacing_and_case(text: str, applied: str) -> None:
    lexicon = Lexicon()
    lexicon.add("Mary Ann", "Marianne")
    lexicon.add("Mary", "Maria")
    lexicon.add("Ann", "Anna")
    lexicon.add("new  york city", "the big apple")
    lexicon.add("St. Mary's Hospital", "Saint Marys Hospital")
    assert lexicon.apply(text) == applied


def test_phrase_entry_is_one_entry_and_goes_through_the_frontend() -> None:
    lexicon = Lexicon()
    entry = lexicon.add(" Mary   Ann ", "Marianne")
    assert entry.word == "Mary Ann" and "mary ann" in lexicon and len(lexicon) == 1
    lexicon.add("Mary Ann", "ˈmɛɹiˌæn", phonemes=True)
    assert len(lexicon) == 1
    assert normalize("Mary Ann, 5 pm.", lexicon=lexicon) == "[[ˈmɛɹiˌæn]], five pee em."
    assert lexicon.remove("MARY ANN") is True and len(lexicon) == 0


ALPHABET = {"s", "æ", "m", "ˈ", "ɹ", "i", "ː", "\u0303"}  # a voice's symbols (U+0303: combining tilde)


@pytest.mark.parametrize(
    ("phonemes", "message"),
    [
        ("s£m", "'£' (U+00A3 pound sign)"),
        ("sæmq", "'q' (U+0071 latin small letter q)"),
        ("sa:m", "'a' (U+0061 latin small letter a), ':' (U+003A colon)"),
    ],
)
def test_phonemes_the_voice_lacks_are_refused_naming_the_symbol(phonemes: str, message: str) -> None:
    with pytest.raises(LexiconError, match=re.escape(message)):
        Lexicon().add("Sam", phonemes, phonemes=True, alphabet=ALPHABET)


def test_phonemes_are_checked_as_the_engine_splits_them() -> None:
    lexicon = Lexicon()
    # "æ̃" composed or not, spaces between words: all symbols the voice has.
    assert lexicon.add("Sam", "ˈsæ̃m  ɹiːm", phonemes=True, alphabet=ALPHABET).pronunciation == "ˈsæ̃m ɹiːm"
    assert lexicon.add("Sam", "s£m", phonemes=True).pronunciation == "s£m"  # no alphabet given: not checked


def test_lexicon_error_is_a_voicebank_error() -> None:
    assert issubclass(LexiconError, VoicebankError)


def test_save_and_load_round_trip(tmp_path: Path, lexicon: Lexicon) -> None:
    path = tmp_path / "voice" / "lexicon.json"
    lexicon.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "schema_version": 1,
        "entries": [
            {"word": "Dr.", "respelling": "Doc"},
            {"word": "Nguyen", "respelling": "Win"},
            {"word": "Siobhan", "phonemes": "ʃɪvˈɔːn"},
        ],
    }
    again = Lexicon.load(path)
    assert again.items() == lexicon.items()
    assert [p.name for p in path.parent.iterdir()] == ["lexicon.json"]  # no temporary file left


def test_save_replaces_the_old_file_atomically(tmp_path: Path, lexicon: Lexicon) -> None:
    path = tmp_path / "lexicon.json"
    Lexicon().save(path)
    lexicon.save(path)
    assert len(Lexicon.load(path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lexicon.json"]


def test_missing_file_is_an_empty_lexicon(tmp_path: Path) -> None:
    assert len(Lexicon.load(tmp_path / "nope.json")) == 0


def test_damaged_json_is_a_corrupt_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptFileError, match="lexicon .*lexicon.json is damaged .*not valid JSON"):
        Lexicon.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "expected a JSON object"),
        ('{"schema_version": 99, "entries": []}', "newer voicebank"),
        ('{"schema_version": 1, "entries": {}}', "must be a list"),
        ('{"schema_version": 1, "entries": [{"word": "a"}]}', "exactly one of"),
        ('{"schema_version": 1, "entries": [{"word": "a, b", "respelling": "x"}]}', "cannot be a lexicon word"),
    ],
)
def test_damaged_files_give_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=message):
        Lexicon.load(path)


# --- the command line -------------------------------------------------------------


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICEBANK_HOME", str(tmp_path))
    (tmp_path / "voices" / "mine").mkdir(parents=True)
    return tmp_path


def test_cli_add_list_show_remove(home: Path) -> None:
    runner = CliRunner()
    app = _cli_app()
    result = runner.invoke(app, ["add", "Nguyen", "Win", "--voice", "mine"])
    assert result.exit_code == 0, result.output
    assert "Added Nguyen -> Win" in result.output
    assert "is now read as: Win" in result.output
    result = runner.invoke(app, ["add", "Siobhan", "ʃɪvˈɔːn", "--phonemes", "--voice", "mine"])
    assert result.exit_code == 0, result.output

    stored = json.loads((home / "voices" / "mine" / "lexicon.json").read_text(encoding="utf-8"))
    assert stored["entries"] == [{"word": "Nguyen", "respelling": "Win"}, {"word": "Siobhan", "phonemes": "ʃɪvˈɔːn"}]

    result = runner.invoke(app, ["list", "--voice", "mine"])
    assert result.exit_code == 0
    assert "2 words" in result.output and "Siobhan -> [[ʃɪvˈɔːn]] (phonemes)" in result.output

    result = runner.invoke(app, ["show", "Call Nguyen at 5 pm. [pause 1s] Thanks 👍", "--voice", "mine"])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["Call Win at five pee em.", "[pause 1 s]", "Thanks thumbs up"]

    result = runner.invoke(app, ["remove", "nguyen", "--voice", "mine"])
    assert result.exit_code == 0 and "Removed" in result.output
    assert "Nguyen" not in runner.invoke(app, ["list", "--voice", "mine"]).output


def test_cli_voice_folder_path_and_global_default(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    app = _cli_app()
    folder = home / "voices" / "mine"
    assert runner.invoke(app, ["add", "Anya", "Ahn-ya", "--voice", str(folder)]).exit_code == 0
    assert Lexicon.load(folder / "lexicon.json").get("anya") is not None
    assert runner.invoke(app, ["add", "Zoe", "Zoey"]).exit_code == 0
    assert Lexicon.load(home / "lexicon.json").get("zoe") is not None
    result = runner.invoke(app, ["list"])
    assert "Zoe -> Zoey" in result.output and "Anya" not in result.output


def test_cli_file_option(home: Path) -> None:
    path = home / "elsewhere" / "words.json"
    result = CliRunner().invoke(_cli_app(), ["add", "GIF", "jif", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert Lexicon.load(path).get("gif").pronunciation == "jif"


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["list", "--voice", "nobody"], UsageError, "No voice 'nobody'"),
        (["list", "--voice", "mine", "--file", "x.json"], UsageError, "not both"),
        (["remove", "ghost"], UsageError, "not in the lexicon"),
        (["add", "Mary , Ann", "x"], LexiconError, "cannot be a lexicon word"),
        (["add", "Sam", "s£m", "--phonemes"], LexiconError, "'£' (U+00A3 pound sign)"),
        (["show", "hi", "--emoji", "loud"], UsageError, "emoji must be one of"),
    ],
)
def test_cli_errors_are_voicebank_errors(home: Path, args: list[str], error: type, message: str) -> None:
    # The voicebank entry point turns these into one "error: ..." line and exit code 2.
    result = CliRunner().invoke(_cli_app(), args)
    assert result.exit_code != 0
    assert isinstance(result.exception, error)
    assert message in str(result.exception)


def test_cli_show_empty_text(home: Path) -> None:
    result = CliRunner().invoke(_cli_app(), ["show", "   "])
    assert result.exit_code == 0
    assert result.output.strip() == "(nothing to say)"


def test_cli_phrase_entry(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_cli_app(), ["add", "Mary Ann", "Marianne"])
    assert result.exit_code == 0, result.output
    assert "'Mary Ann' is now read as: Marianne" in result.output
    result = runner.invoke(_cli_app(), ["show", "Mary Ann's here. Mary too."])
    assert result.output.splitlines() == ["Marianne's here.", "Mary too."]
    assert runner.invoke(_cli_app(), ["remove", "mary  ann"]).exit_code == 0


def test_cli_refuses_phonemes_the_voice_lacks_and_keeps_the_file(home: Path) -> None:
    folder = home / "voices" / "mine"
    config = {"audio": {"sample_rate": 22050}, "phoneme_id_map": {"_": [0], " ": [3], "s": [4], "æ": [5], "m": [6]}}
    (folder / "mine.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(_cli_app(), ["add", "Sam", "sæm", "--phonemes", "--voice", "mine"]).exit_code == 0
    result = runner.invoke(_cli_app(), ["add", "Sam", "ʃæm", "--phonemes", "--voice", "mine"])
    assert isinstance(result.exception, LexiconError)
    assert "'ʃ' (U+0283 latin small letter esh), which the voice has no sound for" in str(result.exception)
    assert Lexicon.load(folder / "lexicon.json").get("sam").pronunciation == "sæm"


def test_for_voice_merges_the_global_lexicon_under_the_voice_folders(home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(_cli_app(), ["add", "Nguyen", "Win"]).exit_code == 0
    assert runner.invoke(_cli_app(), ["add", "Zoe", "Zoey"]).exit_code == 0
    assert runner.invoke(_cli_app(), ["add", "Nguyen", "Nwin", "--voice", "mine"]).exit_code == 0
    voice = Lexicon.for_voice(home / "voices" / "mine")
    assert {e.word: e.pronunciation for e in voice} == {"Nguyen": "Nwin", "Zoe": "Zoey"}
    assert Lexicon.for_voice(None).get("nguyen").pronunciation == "Win"
    assert len(Lexicon.for_voice(home / "voices" / "empty")) == 2  # a folder without a lexicon


def test_the_engine_speaks_with_the_persons_lexicon(home: Path) -> None:
    """`voicebank lexicon add` changes what `voicebank speak` says (global, and the voice folder's)."""
    from voicebank.engines import load_engine

    def said(engine, text: str) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
        return [unit.phonemes for unit in engine.plan(text) if hasattr(unit, "phonemes")]

    before = said(load_engine(), "Call Nguyen")
    result = CliRunner().invoke(_cli_app(), ["add", "Nguyen", "Win"])
    assert result.exit_code == 0, result.output
    engine = load_engine()
    assert said(engine, "Call Nguyen") == said(engine, "Call Win") != before
