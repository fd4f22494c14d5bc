"""Find and remove personal data, so a public reply never repeats what a customer overshared.

Customers post emails, phone numbers, booking codes and card numbers in public mentions
while asking for help; a reply that quotes them back spreads the leak further. Detection
leans towards over-matching: a false alarm costs a placeholder in an agent's note, a miss
costs a customer's privacy. Nothing here logs the values it finds.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

#: The kinds of personal data found, most specific first: where two findings overlap,
#: the earlier kind names the merged span.
KINDS: tuple[str, ...] = (
    "email",
    "iban",
    "card",
    "phone",
    "booking_code",
    "order_number",
    "address",
)

#: What ``scrub`` puts in place of each kind, so readers still see that something was there.
PLACEHOLDERS: dict[str, str] = {kind: f"[{kind.replace('_', ' ')}]" for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Finding:
    """Where one piece of personal data sits in a text.

    Only the span is kept, not the value, so a finding can be logged or shown safely.
    """

    kind: str
    start: int
    end: int
    #: False for a guess from shape alone (six capital letters that might be a word), so
    #: callers can scrub it without telling the customer they overshared.
    certain: bool = True


Span = tuple[int, int]

# --- email -----------------------------------------------------------------------------
# The local part takes every RFC 5322 atext character, so "a!b@x.io" is removed whole
# rather than leaving "a!" behind.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Starting only where a run of address characters starts keeps long texts linear.
_EMAIL = re.compile(
    rf"(?<!{_ATEXT})(?<!{_ATEXT}\.){_ATEXT}+(?:\.{_ATEXT}+)*@{_LABEL}(?:\.{_LABEL})+"
)
# People dodge scrapers with "jane [at] mail [dot] com"; that is still their address.
_EMAIL_SPELLED = re.compile(
    r"(?<![\w.+-])[\w.+-]+\s*[\[({]\s*at\s*[\])}]\s*[\w-]+"
    r"(?:\s*(?:[\[({]\s*dot\s*[\])}]|\.)\s*[\w-]+)+"
    r"|(?<![\w.+-])[\w.+-]+\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+(?:com|net|org|edu|gov"
    r"|co|io|[a-z]{2})\b",
    re.IGNORECASE,
)

# --- IBAN ------------------------------------------------------------------------------
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,4})?"
    r"(?![A-Za-z0-9])"
)

# --- digit runs (cards, phones, long numbers) ------------------------------------------
_DIGITS = re.compile(r"\d+")
_DIGIT_RUN = re.compile(r"(?<![\w.,/+])\d+(?:[ -]\d+)*(?!\w)")
# Possessive groups: a long digit run must not make the engine try every way to split it.
_PHONE = re.compile(r"(?<![\w+.,/])(?:\+[ ]?|00[ ]?)?\(?\d{1,5}+\)?(?:[ .\-]?\(?\d{1,5}+\)?){1,7}+")
_DATE = re.compile(r"\d{1,4}([ .\-/])\d{1,2}\1\d{2,4}")
_LONG_NUMBER = re.compile(r"(?<![\w.,/])\d+(?:[ -]\d{3,})*(?!\w)")
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d[ -](?:19|20)\d\d")

# --- booking codes and reference numbers -----------------------------------------------
_URL = re.compile(
    r"https?://\S+|www\.\S+|(?<![\w-])(?<![\w-]\.)[\w-]+(?:\.[\w-]+)+/\S*", re.IGNORECASE
)
_TOKEN6 = re.compile(r"(?<![A-Za-z0-9@_])[A-Za-z0-9]{6}(?![A-Za-z0-9_])")
_FLIGHT_BEFORE = re.compile(r"\b(?:flight|flt|fl)\.?\s*(?:#|no\.?|number)?\s*$", re.IGNORECASE)
# "100mph", "1080p", "1000th": measurements, not codes, when written in lower case.
_MEASURE = re.compile(
    r"\d+(?:am|pm|hrs?|hours?|mins?|minutes?|secs?|days?|wks?|weeks?|months?|yrs?|years?"
    r"|th|st|nd|rd|kg|km|lbs?|mph|kph|fps|gb|mb|tb"
    r"|mp|ml|mm|cm|ft|in|p|k|x|s)"
)
_REFERENCE_KEY = re.compile(
    r"\b(?:order|booking|confirmation|conf|reservation|reference|ref|ticket|case|account"
    r"|acct|membership|member|loyalty|rewards|frequent\s+flyer|tracking|pnr|record\s+locator"
    r"|locator|claim|invoice|receipt|bag\s+tag|file)\b",
    re.IGNORECASE,
)
_REFERENCE_TAIL = re.compile(
    r"(?i:\s*(?:number|num|no\.?|code|id|is|was|[#:=-]))*\s*"
    r"(?P<token>[A-Za-z0-9][A-Za-z0-9-]{3,29}[A-Za-z0-9])(?![A-Za-z0-9])"
)
_BOOKING_KEYS = frozenset(
    {"booking", "confirmation", "conf", "reservation", "pnr", "record locator", "locator"}
)

#: Six-letter words people write in capitals ("PLEASE HELP"); any other all-caps six-letter
#: token reads as a record locator. Introduced by "booking", "confirmation" and the like,
#: even these count.
COMMON_CAPS_WORDS: frozenset[str] = frozenset(
    """
    ABSURD ACCESS ACROSS ACTUAL ADVICE AFRAID AGENCY AGENTS AIRBUS ALMOST ALWAYS AMAZON
    AMOUNT ANNOYS ANSWER ANYONE ANYWAY APPEAL ARRIVE ASKING ASSIST AUGUST BEFORE
    BEHIND BETTER BEYOND BOARDS BOEING BOOKED BORING BOTHER BOUGHT BROKEN BUDGET BUTTON
    CALLED CANCEL CANNOT CAREER CHANGE CHARGE CHECKS CHEERS CHOICE CHROME CLEANS
    CLIENT CLOSED COMING COMMON COUPLE COURSE CREDIT CRUISE DAMAGE DAMMIT DECENT DELAYS
    DELETE DEMAND DETAIL DIRECT DISMAL DOESNT DOLLAR DOUBLE DRIVER DURING EASILY EFFORT
    EITHER EMAILS ENDING ENOUGH ENTIRE ESCAPE EUROPE EVENTS EXCUSE EXPECT FAILED FAMILY
    FAMOUS FIGURE FIXING FLIGHT FLYING FOLLOW FORGOT FRIDAY FRIEND FUTURE GLOBAL GOOGLE
    GOTTEN GROUND HAPPEN HARDLY HAWAII HEAVEN HELPED HONEST HORRID HORROR HOTELS IGNORE
    INDEED INSANE INSIDE ISSUES ITSELF JOKING KINDLY LAPTOP LATELY LEAVES LETTER
    LISTEN LITTLE LOSERS LOSING LOUNGE LOVELY MAKING MANAGE MATTER MEMBER MEXICO MIDDLE
    MINUTE MISSED MOBILE MOMENT MONDAY MONTHS MOTHER MOVING MYSELF NEARLY NEEDED NOBODY
    NORMAL NOTICE NUMBER OFFICE ONLINE OPENED OPTION ORANGE ORDERS OTHERS OUTAGE PARENT
    PAYING PEOPLE PERIOD PERSON PHONES PILOTS PLANES PLEASE POLICY POSTED PRETTY PRICES
    PROPER PUBLIC RATHER REALLY REASON RECENT RECORD REFUND REGRET REMAIN REPAIR REPEAT
    REPORT RESCUE RESULT RETURN REVIEW REWARD ROUTER RUDELY RUINED SAFETY SAYING SCREEN
    SEASON SEATED SECOND SECURE SELECT SHAMED SHAMES SHOULD SIGNED SILENT SIMPLE SIMPLY
    SINGLE SISTER SLOWLY SOCIAL SORTED SPIRIT SPRING STATUS STAYED STOLEN STREAM STRESS
    STRIKE STUPID SUCKED SUNDAY SUPPLY SURELY SYSTEM TABLET TAKING TALKED TEXTED THANKS
    THINGS THINKS THIRTY THOUGH THREAD TICKET TOILET TRAGIC TRAVEL TRYING TWENTY UNABLE
    UNFAIR UNITED UNLESS UPDATE USEFUL VIDEOS VIRGIN WAITED WANTED WEEKLY WINDOW WINTER
    WITHIN WONDER WORKED WORTHY YEARLY YELLOW
    """.split()
)

# --- addresses -------------------------------------------------------------------------
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl"
    r"|Terrace|Close|Crescent|Square|Sq|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Trail|Row|Mews"
    r"|Grove|Gardens)"
)
_ADDRESSES = (
    re.compile(
        rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'\-]*\.?\s+){{1,4}}{_STREET_SUFFIX}\b\.?"
        r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|Flat)\.?\s*#?\s*[A-Za-z0-9\-]+|,?\s+#\s*\d+)?"
    ),
    re.compile(
        r"\b[A-ZÄÖÜ][\wäöüß\-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|laan|straat"
        r"|gade|vej|gatan|vägen)\s+\d{1,4}[a-z]?\b"
    ),
    # "12 rue de la Paix", "5 via Roma": the street's own name must be capitalised, so
    # "2 place to sit" stays.
    re.compile(
        r"\b\d{1,4},?\s+(?i:rue|avenue|boulevard|bd|place|chemin|impasse|via|viale|piazza"
        r"|calle|avenida|plaza|paseo|rua)\s+(?:(?:de|del|della|di|da|do|du|des|la|le|les|los"
        r"|las|dos|das)\s+){0,2}[A-ZÀ-Ý][\w'\-]+"
    ),
    # UK postcodes ("SW1A 1AA") and US state + ZIP ("CA 94105-1234").
    re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[A-Z]{2}\b"),
    re.compile(
        r"\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS"
        r"|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)"
        r",?\s+\d{5}(?:-\d{4})?\b"
    ),
)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check that every payment card number passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) passes its ISO 13616 mod-97 check."""
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rotated = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rotated))
    except ValueError:
        return False
    return number % 97 == 1


def _emails(text: str) -> Iterator[Span]:
    for pattern in (_EMAIL, _EMAIL_SPELLED):
        for m in pattern.finditer(text):
            yield m.span()


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        value = m.group()
        compact = value.replace(" ", "")
        if not 15 <= len(compact) <= 34 or sum(c.isdigit() for c in compact) < 6:
            continue
        # Upper-case country code and check digits look like an IBAN even with a typo;
        # anything else must prove itself with the checksum.
        if value[:2].isupper() or iban_valid(value):
            yield m.span()


def _cards(text: str) -> Iterator[Span]:
    for run in _DIGIT_RUN.finditer(text):
        groups = [
            (run.start() + g.start(), run.start() + g.end()) for g in _DIGITS.finditer(run.group())
        ]
        i = 0
        while i < len(groups):
            # The longest run of whole groups from here with 13-19 digits that passes Luhn;
            # a card has at most 19 digits, so at most 19 groups are looked at.
            best, digits = -1, ""
            for j in range(i, min(len(groups), i + 19)):
                digits += text[groups[j][0] : groups[j][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    best = j
            if best >= 0:
                yield groups[i][0], groups[best][1]
                i = best
            i += 1


def _phone_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    international = value.startswith(("+", "00"))
    if not 7 <= len(digits) <= 15:
        return False
    if international or "(" in value:
        return True
    if _DATE.fullmatch(value):
        return False
    separators = re.findall(r"[ .\-]", value)
    if not separators:
        # A bare run reads as a phone number only with a national length; shorter or
        # longer runs are left to the long-number rule (order, account, member numbers).
        return len(digits) == 10 or (len(digits) == 11 and digits[0] in "01")
    if set(separators) == {"."} and len(separators) == 1:
        return False  # a decimal number
    groups = re.findall(r"\d+", value)
    return len(digits) >= 9 or len(groups) >= 3


def _phones(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        value = m.group()
        # A phone run that swallowed a neighbouring number is cut back at a separator.
        pieces = list(re.finditer(r"[\d()+]+", value))
        # A number that announces itself as a phone (+44, 0044, an area code in
        # brackets), or whose last piece is set off differently ("555.123.4567 12"), is
        # cut back; an evenly grouped long run (a card) is left to the number rule.
        announced = value.startswith(("+", "00")) or "(" in value
        if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] == "_"):
            pieces.pop()  # the last piece is glued to a word ("0958x"): not part of it
        while pieces:
            end = pieces[-1].end()
            if _phone_ok(value[:end]):
                yield m.start(), m.start() + end
                break
            if len(pieces) < 2 or len(re.sub(r"\D", "", value[:end])) <= 15:
                break
            seps = [value[a.end() : b.start()] for a, b in itertools.pairwise(pieces)]
            if not announced and seps[-1] in seps[:-1]:
                break
            pieces.pop()


def _in_any(start: int, end: int, spans: list[Span]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def is_booking_code(token: str) -> bool:
    """Whether a standalone six-character token reads as a booking code (record locator).

    It does when it mixes letters and digits (not a lower-case measurement like
    ``1080p``) or is six capital letters that are not a common word.
    """
    if len(token) != 6 or not token.isascii() or not token.isalnum():
        return False
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if has_digit and has_alpha:
        return not (token.islower() and _MEASURE.fullmatch(token))
    if has_alpha and token.isupper():
        return token not in COMMON_CAPS_WORDS
    return False  # six digits: the long-number rule takes them


@functools.lru_cache(maxsize=16)
def _url_spans(text: str) -> list[Span]:
    """Where the links are; both booking-code scans of a text ask (cached per text)."""
    return [m.span() for m in _URL.finditer(text)]


def _booking_codes(text: str, *, guesses: bool) -> Iterator[Span]:
    urls = _url_spans(text)
    for m in _TOKEN6.finditer(text):
        token = m.group()
        if not is_booking_code(token) or _in_any(m.start(), m.end(), urls):
            continue
        if token.isalpha() != guesses:
            continue  # letters only: a guess; letters and digits: a code for sure
        if _FLIGHT_BEFORE.search(text, max(0, m.start() - 20), m.start()):
            continue  # "flight UA1234": the customer named a flight, which is not personal
        yield m.span()


@functools.lru_cache(maxsize=16)
def _reference_spans(text: str) -> list[tuple[int, int, bool]]:
    """Every announced reference number: (start, end, whether it is a booking code).
    Both the booking and the order-number scans of a text ask (cached per text: the
    key scan is the costliest pattern here)."""
    found = []
    for key in _REFERENCE_KEY.finditer(text):
        m = _REFERENCE_TAIL.match(text, key.end())
        if m is None:
            continue
        token = m.group("token")
        caps = token.isalpha() and token.isupper() and 5 <= len(token) <= 8
        if not (caps or any(c.isdigit() for c in token)):
            continue
        # "booking reference: ABCDE" is a booking code although "reference" alone is not.
        near = text[max(0, key.start() - 20) : key.end()].lower()
        is_booking = any(k in near for k in _BOOKING_KEYS) and len(token) <= 8
        found.append((*m.span("token"), is_booking))
    return found


def _references(text: str, *, booking: bool) -> Iterator[Span]:
    for start, end, is_booking in _reference_spans(text):
        if is_booking == booking:
            yield start, end


def _booking(text: str) -> Iterator[Span]:
    yield from _booking_codes(text, guesses=False)
    yield from _references(text, booking=True)


def _booking_guesses(text: str) -> Iterator[Span]:
    yield from _booking_codes(text, guesses=True)


def _order_numbers(text: str) -> Iterator[Span]:
    yield from _references(text, booking=False)
    for m in _LONG_NUMBER.finditer(text):
        if len(re.sub(r"\D", "", m.group())) >= 6 and not _YEAR_RANGE.fullmatch(m.group()):
            yield m.span()


def _addresses(text: str) -> Iterator[Span]:
    for pattern in _ADDRESSES:
        for m in pattern.finditer(text):
            yield m.span()


#: (kind, certain, detector), most specific kind first.
_DETECTORS: tuple[tuple[str, bool, Callable[[str], Iterator[Span]]], ...] = (
    ("email", True, _emails),
    ("iban", True, _ibans),
    ("card", True, _cards),
    ("phone", True, _phones),
    ("booking_code", True, _booking),
    ("booking_code", False, _booking_guesses),
    ("order_number", True, _order_numbers),
    ("address", True, _addresses),
)


def find_personal_data(text: str) -> list[Finding]:
    """Every piece of personal data in ``text``, in order, with overlapping finds merged.

    A merged finding takes the most specific kind among its parts, and is certain if
    any part is.
    """
    raw: list[tuple[int, int, int, bool]] = []
    for kind, certain, detect in _DETECTORS:
        priority = KINDS.index(kind)
        raw.extend((s, e, priority, certain) for s, e in detect(text) if e > s)
    raw.sort()
    merged: list[tuple[int, int, int, bool]] = []
    for start, end, priority, certain in raw:
        if merged and start < merged[-1][1]:
            s0, e0, p0, c0 = merged[-1]
            merged[-1] = (s0, max(e0, end), min(p0, priority), c0 or certain)
        else:
            merged.append((start, end, priority, certain))
    return [Finding(KINDS[p], s, e, c) for s, e, p, c in merged]


def contains_personal_data(text: str) -> list[str]:
    """The kinds of personal data in ``text`` (each once, in order of appearance)."""
    kinds: list[str] = []
    for finding in find_personal_data(text):
        if finding.kind not in kinds:
            kinds.append(finding.kind)
    return kinds


def scrub(text: str, findings: Sequence[Finding] | None = None) -> str:
    """``text`` with every piece of personal data replaced by a placeholder like ``[email]``.

    ``findings`` from ``find_personal_data(text)`` may be passed to save finding them again.
    """
    out: list[str] = []
    last = 0
    for finding in find_personal_data(text) if findings is None else findings:
        out.append(text[last : finding.start])
        out.append(PLACEHOLDERS[finding.kind])
        last = finding.end
    out.append(text[last:])
    return "".join(out)
