"""Text normalisation: a table of written → spoken English (US), by category."""

from __future__ import annotations

import pytest

from voicebank.errors import UsageError
from voicebank.text import Lexicon, TextOptions, TextWarning, normalize, segments, unreadable

MONEY = [
    ("I paid $500 for it.", "I paid five hundred dollars for it."),
    ("It costs $3.50 today.", "It costs three dollars and fifty cents today."),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("$1,000,000", "one million dollars"),
    ("$100.5", "one hundred dollars and fifty cents"),
    ("$1.2 million", "one point two million dollars"),
    ("We raised $2.5 billion.", "We raised two point five billion dollars."),
    ("$5M deal, $10k", "five million dollars deal, ten thousand dollars"),
    ("£20 and €5", "twenty pounds and five euros"),
    ("Tickets cost £12.99 each.", "Tickets cost twelve pounds and ninety-nine pence each."),
    ("£1.01", "one pound and one penny"),
    ("€5.20", "five euros and twenty cents"),
    ("¥500", "five hundred yen"),
    ("-$5", "minus five dollars"),
    ("$5-10", "five to ten dollars"),
    ("The fee is 20 USD.", "The fee is twenty dollars."),
    ("50¢", "fifty cents"),
]

DATES = [
    ("on March 3, 2024", "on March third, twenty twenty-four"),
    ("3/14/2025", "March fourteenth, twenty twenty-five"),
    ("2024-03-14", "March fourteenth, twenty twenty-four"),
    ("31/12/2024", "the thirty-first of December, twenty twenty-four"),
    ("14.03.2024", "the fourteenth of March, twenty twenty-four"),
    ("12-31-2024", "December thirty-first, twenty twenty-four"),
    ("Jan. 5, 2024", "January fifth, twenty twenty-four"),
    ("December 25th, 2023", "December twenty-fifth, twenty twenty-three"),
    ("On 5 May 2023 we met.", "On the fifth of May, twenty twenty-three we met."),
    ("the 3rd of March", "the third of March"),
    ("May 2024", "May twenty twenty-four"),
    ("I was born on July 4th, 1976.", "I was born on July fourth, nineteen seventy-six."),
    ("She turned 21 on 12/25/2023.", "She turned twenty-one on December twenty-fifth, twenty twenty-three."),
]

TIMES = [
    ("at 3:30 pm", "at three thirty pee em"),
    ("at 14:05", "at fourteen oh five"),
    ("at 3pm", "at three pee em"),
    ("We met at 7 p.m.", "We met at seven pee em."),
    ("at 11 a.m. sharp", "at eleven eigh em sharp"),
    ("3:00 PM", "three pee em"),
    ("at 9:00, at 12:00 and 00:00", "at nine o'clock, at twelve o'clock and midnight"),
    ("at 09:00", "at nine o'clock"),
    ("14:00", "fourteen hundred"),
    ("Meet me at 12:30.", "Meet me at twelve thirty."),
    ("10:45:30", "ten forty-five and thirty seconds"),
]

ORDINALS = [
    ("the 1st and 22nd", "the first and twenty-second"),
    ("He was 3rd.", "He was third."),
    ("101st", "one hundred first"),
    ("the 100th time", "the one hundredth time"),
    ("11th, 12th, 13th", "eleventh, twelfth, thirteenth"),
    ("The 21st century began in 2001.", "The twenty-first century began in two thousand one."),
]

YEARS_AND_NUMBERS = [
    ("in 1984 we moved", "in nineteen eighty-four we moved"),
    ("1984 people came", "one thousand nine hundred eighty-four people came"),
    ("It happened in 2005.", "It happened in two thousand five."),
    ("2005", "two thousand five"),
    ("the 1990s were fun", "the nineteen nineties were fun"),
    ("the 1800s", "the eighteen hundreds"),
    ("The '80s were loud.", "The eighties were loud."),
    ("in his 30s, wait 30s", "in his thirties, wait thirty seconds"),
    ("1776 was a big year.", "seventeen seventy-six was a big year."),
    ("In 1905 it snowed.", "In nineteen oh five it snowed."),
    ("from 1999 to 2001", "from nineteen ninety-nine to two thousand one"),
    (
        "between 1990 and 1995, 1990-95",
        "between nineteen ninety and nineteen ninety-five, nineteen ninety to ninety-five",
    ),
    ("2000 people", "two thousand people"),
    ("In 2024, 1,500 people came.", "In twenty twenty-four, one thousand five hundred people came."),
    ("500 BC", "five hundred bee see"),
    ("1234", "one thousand two hundred thirty-four"),
    ("12345", "twelve thousand three hundred forty-five"),
    ("1,234,567", "one million two hundred thirty-four thousand five hundred sixty-seven"),
    ("3.14159", "three point one four one five nine"),
    ("0.5 and .75", "zero point five and point seven five"),
    ("007", "zero zero seven"),
    ("-12 and +5", "minus twelve and plus five"),
    ("0", "zero"),
    ("version 1.2.3", "version one point two point three"),
    ("Room 101", "Room one hundred one"),
    ("1.5 million people", "one point five million people"),
]

FRACTIONS_AND_RANGES = [
    ("1/2 cup and 2 1/2 cups", "one half cup and two and a half cups"),
    ("2/3 of people", "two thirds of people"),
    ("5/8", "five eighths"),
    ("1½ cups", "one and a half cups"),
    ("pages 10-20", "pages ten to twenty"),
    ("24/7 and 9/11", "twenty-four seven and nine eleven"),
    ("The score was 2:1.", "The score was two to one."),
    ("2x faster, 1920x1080", "two times faster, one thousand nine hundred twenty by one thousand eighty"),
]

PERCENT = [
    ("50% and 3.5%", "fifty percent and three point five percent"),
    ("-3%", "minus three percent"),
    ("100%", "one hundred percent"),
    ("10-20%", "ten to twenty percent"),
    ("Prices fell 12.5% in 2009.", "Prices fell twelve point five percent in two thousand nine."),
]

PHONES = [
    ("Call 555-123-4567 now", "Call five five five, one two three, four five six seven now"),
    ("Call me at (206) 555-0134.", "Call me at two zero six, five five five, zero one three four."),
    ("555.123.4567", "five five five, one two three, four five six seven"),
    ("+44 20 7946 0958", "plus four four, two zero, seven nine four six, zero nine five eight"),
    ("1-800-555-1234", "one, eight zero zero, five five five, one two three four"),
    ("555-1234", "five five five, one two three four"),
    ("call 911", "call nine one one"),
    ("dial 5551234", "dial five five five one two three four"),
]

UNITS = [
    (
        "5 km, 10 kg, 72°F, 3 mph, 100 ml",
        "five kilometers, ten kilograms, seventy-two degrees Fahrenheit, three miles per hour, one hundred milliliters",
    ),
    ("1 km", "one kilometer"),
    ("1.5 km", "one point five kilometers"),
    ("5km", "five kilometers"),
    ("-5°C outside", "minus five degrees Celsius outside"),
    ("It's 25°.", "It's twenty-five degrees."),
    ("Take 500 mg twice a day.", "Take five hundred milligrams twice a day."),
    ("Drink 250 ml of water every 2 hrs.", "Drink two hundred fifty milliliters of water every two hours."),
    ("1 GB", "one gigabyte"),
    ("5 m²", "five square meters"),
    ("90 min", "ninety minutes"),
    ("5'10\" tall", "five feet ten inches tall"),
]

ABBREVIATIONS = [
    ("Dr. Smith lives on Elm St.", "Doctor Smith lives on Elm Street."),
    ("St. Mary's is nice.", "Saint Mary's is nice."),
    ("Mr Jones called.", "Mister Jones called."),
    ("Mrs. Brown met Prof. Green.", "Missus Brown met Professor Green."),
    ("ask dr jones", "ask Doctor jones"),
    ("Mulholland Dr.", "Mulholland Drive."),
    ("I live at 221B Baker St.", "I live at two hundred twenty-one B Baker Street."),
    ("Mt. Everest", "Mount Everest"),
    ("John Smith Jr. came.", "John Smith Junior came."),
    ("Apple Inc. is big.", "Apple Incorporated is big."),
    ("e.g. this, i.e. that", "for example this, that is that"),
    ("tea w/ milk, w/o sugar, etc.", "tea with milk, without sugar, et cetera."),
    ("The U.K. and the U.S.A. agreed.", "The you kay and the you ess eigh agreed."),
    ("I have ALS.", "I have eigh el ess."),
    ("J. K. Rowling wrote it.", "jay kay Rowling wrote it."),
    ("No. 5 and p. 12", "number five and page twelve"),
    ("OK, see you at 7!", "okay, see you at seven!"),
    ("World War II and Chapter IV", "World War two and Chapter four"),
    ("Henry VIII", "Henry the eighth"),
]

WEB = [
    ("Visit example.com/docs today.", "Visit example dot com slash docs today."),
    ("Mail sam@example.org please.", "Mail sam at example dot org please."),
    ("See https://voicebank.dev/docs.", "See voicebank dot dev slash docs."),
    (
        "https://www.example.com/get-started?x=1#top",
        "double-you double-you double-you dot example dot com slash get dash started",
    ),
    ("john.doe+tag@mail.example.co.uk", "john dot doe plus tag at mail dot example dot co dot uk"),
    ("Check github.com.", "Check github dot com."),
    ("file.txt", "file dot txt"),
]

PUNCTUATION_AND_SYMBOLS = [
    ('He said "Hi." Then left.', "He said Hi. Then left."),
    ("Wait... what?", "Wait, what?"),
    ("it's 5 o'clock -- or is it?", "it's five o'clock, or is it?"),
    ("Hello!!!", "Hello!"),
    ("What?!", "What?"),
    ("wait;;; ok", "wait; ok"),
    ("(parenthetical) remark", "parenthetical, remark"),
    ("a — b", "a, b"),
    ("'quoted' words and dogs' bowls", "quoted words and dogs' bowls"),
    ("***stars*** and ___lines___", "stars and lines"),
    ("#5 and C# and #voicebank", "number five and C sharp and hashtag voicebank"),
    ("A & B", "A and B"),
    ("2+2=4", "two plus two equals four"),
    ("yes/no and and/or", "yes or no and and or"),
    ("~5 people", "about five people"),
    ("COVID-19 and MP3", "COVID-nineteen and MP three"),
    ("end.Next", "end. Next"),
    ("café naïve, Привет, мир!", "café naïve!"),  # Cyrillic is skipped (and reported), not spelled out
]

EMOJI = [
    ("I love you ❤️", "I love you love"),
    ("Thanks 👍🏽", "Thanks thumbs up"),
    ("😂😂😂", "laughing"),
    ("Hello :) world", "Hello smile world"),
    ("<3 you", "love you"),
    ("nice 🦔", "nice"),
    ("A → B", "A to B"),
]

# Issue 14: text a person types when talking through the voice.
MEDICAL = [
    ("BP 120/80", "bee pee one hundred twenty over eighty"),
    (
        "My blood pressure was 135/85 this morning.",
        "My blood pressure was one hundred thirty-five over eighty-five this morning.",
    ),
    ("BP: 140/90 mmHg", "bee pee: one hundred forty over ninety millimeters of mercury"),
    ("Blood pressure 118/76, pulse 72.", "Blood pressure one hundred eighteen over seventy-six, pulse seventy-two."),
    ("Her pressure is 90/60 today.", "Her pressure is ninety over sixty today."),
    ("It was 120/80 mm Hg.", "It was one hundred twenty over eighty millimeters of mercury."),
    ("BP 120/80 and pulse 64 bpm.", "bee pee one hundred twenty over eighty and pulse sixty-four beats per minute."),
    ("Pain is 7/10 today.", "Pain is seven out of ten today."),
    ("I rated it 4/5.", "I rated it four out of five."),
    ("4/5 stars", "four out of five stars"),
    ("I got 9/10 on the test.", "I got nine out of ten on the test."),
    ("She scored 85/100.", "She scored eighty-five out of one hundred."),
    ("I have 20/20 vision.", "I have twenty twenty vision."),
    ("20/40 in the left eye", "twenty forty in the left eye"),
    # real fractions, dates and scores keep their readings
    ("Add 3/4 cup of milk.", "Add three quarters cup of milk."),
    ("Use 1/2 tsp of salt.", "Use one half teaspoon of salt."),
    ("1 1/2 tsp", "one and a half teaspoons"),
    ("3/4/2025", "March fourth, twenty twenty-five"),
    ("Due on 3/10.", "Due on March tenth."),
    ("3/10 of a mile", "three tenths of a mile"),
    ("We won 3-1.", "We won three to one."),
    ("a 60/40 split and the 80/20 rule", "a sixty forty split and the eighty twenty rule"),
    ("Ten 10/10!", "Ten ten out of ten!"),
    ("Take 500 mg twice daily.", "Take five hundred milligrams twice daily."),
    ("Take 1 tab every 4 hrs.", "Take one tab every four hours."),
    ("Give 5 ml every 6 hrs.", "Give five milliliters every six hours."),
    ("2 tsp of honey", "two teaspoons of honey"),
    ("I have COPD and PTSD.", "I have see oh pee dee and pee tee ess dee."),
    ("FYI my BP is high.", "ef why eye my bee pee is high."),
]

TYPED_TIMES = [
    ("10:05 a.m. Take 2 tabs.", "ten oh five eigh em. Take two tabs."),
    ("Take 2 tabs at 8 p.m. Then rest.", "Take two tabs at eight pee em. Then rest."),
    ("Lunch at 12:30 p.m. Bring water.", "Lunch at twelve thirty pee em. Bring water."),
    ("at 10 A.M. The doctor comes.", "at ten eigh em. The doctor comes."),
    ("See you at 9 a.m. Monday.", "See you at nine eigh em Monday."),
    ("The call is at 3 p.m. Eastern.", "The call is at three pee em Eastern."),
    ("10.05 am", "ten oh five eigh em"),
    ("at 3.45pm.", "at three forty-five pee em."),
]

ADDRESSES = [
    ("St. Mary's St.", "Saint Mary's Street."),
    ("Meet at St. Mary's St. Bring the card.", "Meet at Saint Mary's Street. Bring the card."),
    ("St. Paul is cold.", "Saint Paul is cold."),
    ("Then St. Paul wrote.", "Then Saint Paul wrote."),
    ("St. Mary's is on Elm St.", "Saint Mary's is on Elm Street."),
    ("I live at 123 Main St. Apt. 4B.", "I live at one hundred twenty-three Main Street Apartment four B."),
    ("221B Baker St. London", "two hundred twenty-one B Baker Street London"),
    ("Go to 42 Mulholland Dr. now.", "Go to forty-two Mulholland Drive now."),
    ("Our office is on Oak St. Suite 200.", "Our office is on Oak Street Suite two hundred."),
    ("We visited St. Louis.", "We visited Saint Louis."),
    ("Ask Dr. Smith about it.", "Ask Doctor Smith about it."),
    ("Apt. 5", "Apartment five"),
    ("apt. 12", "apartment twelve"),
    ("That was apt.", "That was apt."),
]

TYPED_ABBREVIATIONS = [
    ("Call ext. 1234 please.", "Call extension one two three four please."),
    ("Dial 555-123-4567 ext. 89.", "Dial five five five, one two three, four five six seven extension eight nine."),
    ("WWII ended in 1945.", "World War two ended in nineteen forty-five."),
    ("My grandfather fought in WWI.", "My grandfather fought in World War one."),
    ("WW2 films", "World War two films"),
    ("It takes approx. 5 mins.", "It takes approximately five minutes."),
    ("My appt. is at 3 pm.", "My appointment is at three pee em."),
    ("Call the dept. today.", "Call the department today."),
    ("Bring snacks, drinks, etc.", "Bring snacks, drinks, et cetera."),
    ("Fruit, e.g. apples.", "Fruit, for example apples."),
    ("Us vs. them", "Us versus them"),
    ("ASAP please", "as soon as possible please"),
    ("btw thx", "by the way thanks"),
    ("pls call me", "please call me"),
    ("He is 5 yrs old.", "He is five years old."),
    ("I walk 3 wks out of 4.", "I walk three weeks out of four."),
    ("No. 7 bus", "number seven bus"),
]

DIGIT_GROUPS = [
    ("My card is 4111 1111 1111 1111.", "My card is four one one one, one one one one, one one one one, one one one one."),
    ("4111-1111-1111-1111", "four one one one, one one one one, one one one one, one one one one"),
    ("Call 020 7946 0958.", "Call zero two zero, seven nine four six, zero nine five eight."),
    ("My mobile is 0412 345 678.", "My mobile is zero four one two, three four five, six seven eight."),
    ("07700 900123", "zero seven seven zero zero, nine zero zero one two three"),
    ("Account 12345678", "Account one two three four, five six seven eight"),
    ("acct # 987654321", "account number nine eight seven, six five four, three two one"),
    ("My PIN is 4321.", "My PIN is four three two one."),
    ("The ref is 00123456.", "The ref is zero zero one two, three four five six."),
    ("Order 123456 shipped.", "Order one two three, four five six shipped."),
    ("Zip code 90210", "Zip code nine zero two one zero"),
    ("12345678", "one two three four, five six seven eight"),
    ("25000000 people", "twenty-five million people"),
    ("38250000 people", "thirty-eight million two hundred fifty thousand people"),
    ("1000000 dollars", "one million dollars"),
]

SCRIPTS = [
    ("你好", ""),
    ("Hello 你好 world", "Hello world"),
    ("你好世界，我是中国人", ""),
    ("Привет, мир!", ""),
    ("Thanks, こんにちは!", "Thanks!"),
    ("שלום friend", "friend"),
    ("β-blocker", "β-blocker"),
    ("5 µg", "five micrograms"),
]

TABLE = [
    pytest.param(written, spoken, id=f"{group}-{i}")
    for group, rows in {
        "money": MONEY,
        "dates": DATES,
        "times": TIMES,
        "ordinals": ORDINALS,
        "years": YEARS_AND_NUMBERS,
        "fractions": FRACTIONS_AND_RANGES,
        "percent": PERCENT,
        "phones": PHONES,
        "units": UNITS,
        "abbrev": ABBREVIATIONS,
        "web": WEB,
        "punct": PUNCTUATION_AND_SYMBOLS,
        "emoji": EMOJI,
        "medical": MEDICAL,
        "typed-times": TYPED_TIMES,
        "addresses": ADDRESSES,
        "typed-abbrev": TYPED_ABBREVIATIONS,
        "digit-groups": DIGIT_GROUPS,
        "scripts": SCRIPTS,
    }.items()
    for i, (written, spoken) in enumerate(rows)
]


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 80
    typed = MEDICAL + TYPED_TIMES + ADDRESSES + TYPED_ABBREVIATIONS + DIGIT_GROUPS + SCRIPTS
    assert len(typed) >= 60  # issue 14: text a person actually types


@pytest.mark.parametrize(("written", "spoken"), TABLE)
def test_normalize(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


def test_known_piper_complaints_are_fixed() -> None:
    # rhasspy/piper#363: "$500" was "dollar five hundred", "Mr" was "m r".
    assert "five hundred dollars" in normalize("$500")
    assert normalize("Mr") == "Mister"


@pytest.mark.parametrize(
    ("mode", "spoken"),
    [
        ("common", "Well done thumbs up"),
        ("name", "Well done thumbs up hedgehog"),
        ("drop", "Well done"),
    ],
)
def test_emoji_policy_is_a_setting(mode: str, spoken: str) -> None:
    assert normalize("Well done 👍 🦔 :)", options=TextOptions(emoji=mode)).replace(" smile", "") == spoken


def test_emoticons_are_dropped_with_emoji() -> None:
    assert normalize("ok :) <3", options=TextOptions(emoji="drop")) == "ok"


def test_bad_option_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="emoji must be one of"):
        TextOptions(emoji="loud")
    with pytest.raises(UsageError, match="default_pause"):
        TextOptions(default_pause=-1)


def test_options_round_trip() -> None:
    options = TextOptions(emoji="name", paragraph_pause=1.0)
    data = options.to_dict()
    assert data["schema_version"] == 1
    assert TextOptions.from_dict({**data, "added_later": True}) == options


def test_lexicon_wins_over_built_in_rules() -> None:
    lexicon = Lexicon()
    lexicon.add("Nguyen", "Win")
    lexicon.add("km", "klicks")
    lexicon.add("Siobhan", "ʃɪvˈɔːn", phonemes=True)
    assert normalize("Nguyen's car did 5 km.", lexicon=lexicon) == "Win's car did five klicks."
    assert normalize("Ask SIOBHAN.", lexicon=lexicon) == "Ask [[ʃɪvˈɔːn]]."


def test_inline_phonemes_pass_through_untouched() -> None:
    assert normalize("Say [[həˈloʊ]] to 5 people.") == "Say [[həˈloʊ]] to five people."


def test_pause_markup_is_not_read_aloud() -> None:
    assert normalize("Hello. [pause 2s] World <break time='1s'/> again") == "Hello. World again"


@pytest.mark.parametrize("text", ["", "   ", "\n\t\r\n", "\x00\x01\x1b[31m\x7f", "\u200b\u200d\ufeff", "[pause]"])
def test_nothing_to_say_gives_empty_string(text: str) -> None:
    assert normalize(text) == ""


def test_control_characters_inside_text_are_removed() -> None:
    assert normalize("Hel\x00lo\x07 wor\x1b[0mld") == "Hello world"


def test_output_keeps_only_speakable_characters() -> None:
    out = normalize("Q3 2024: revenue +12% (vs. $1.2bn) — see §4 & www.x.com/a_b!")
    assert not any(c.isdigit() for c in out)
    assert set(out) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ '-.,?!;:")


# --- scripts the voice cannot read ------------------------------------------------------


def test_unreadable_script_is_reported_and_not_spoken() -> None:
    text = "你好世界，我是中国人"
    assert unreadable(text) == [TextWarning("Chinese", 9, "你好世界 我是中国人")]
    message = str(unreadable(text)[0])
    assert "Skipped 9 Chinese letters" in message and "voicebank lexicon add" in message
    assert segments(text) == []


def test_each_unreadable_script_is_reported_once_in_order() -> None:
    warnings = unreadable("Привет! Hello 你好, мир. 안녕")
    assert [(w.script, w.letters) for w in warnings] == [("Cyrillic", 9), ("Chinese", 2), ("Korean", 2)]
    assert normalize("Привет! Hello 你好, мир. 안녕") == "Hello."


@pytest.mark.parametrize("text", ["Hello there.", "café naïve", "β-blocker 5 µg", "Say [[你好]]", ""])
def test_readable_text_gives_no_warning(text: str) -> None:
    assert unreadable(text) == []


def test_a_lexicon_entry_gives_a_foreign_word_a_reading() -> None:
    lexicon = Lexicon()
    lexicon.add("你好", "nee how")
    assert unreadable("你好, Sam", lexicon=lexicon) == []
    assert normalize("你好, Sam", lexicon=lexicon) == "nee how, Sam"
