"""Words for matching: tokens, accent folding, stop words, light stemmers, language guessing.

Everything here works offline on English, Italian and Swedish text and needs no model. Words are
compared without accents ("värme" and "varme" are one word), so that typing without the right
keyboard still matches.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

LANGUAGES: tuple[str, ...] = ("en", "it", "sv")

# Letters and digits together ("3d", "co2"); apostrophes split Italian elisions ("l'acqua").
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SPECIAL = str.maketrans({"æ": "ä", "ø": "ö", "ß": "ss", "œ": "oe", "ł": "l", "đ": "d"})
# Letters of their own in Swedish, not accented vowels: "spara" (save) is not "spåra" (trace).
_KEPT = {"å": "\x00", "ä": "\x01", "ö": "\x02"}
_KEEP = str.maketrans(_KEPT)
_RESTORE = str.maketrans({v: k for k, v in _KEPT.items()})


@lru_cache(maxsize=65_536)
def fold(word: str) -> str:
    """``word`` lower-cased and without accents: ``"Perché"`` → ``"perche"``.

    Swedish å, ä and ö stay (they are letters, not accents); ü becomes u.
    """
    lowered = unicodedata.normalize("NFC", word.casefold().translate(_SPECIAL))
    decomposed = unicodedata.normalize("NFKD", lowered.translate(_KEEP))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_RESTORE)


def tokens(text: str) -> list[str]:
    """The words of ``text`` as written (lower case, accents kept)."""
    return _TOKEN.findall(text.casefold())


def _words(text: str) -> frozenset[str]:
    return frozenset(fold(word) for word in text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """a about above after again against all also am an and any are as at be because been
        before being below between both but by can could did do does doing down during each
        even every few for from further had has have having he her here hers how i if in into
        is it its itself just like made make many may me more most much must my no nor not now
        of off on once only or other others our ours out over own per same she should so some
        such than that the their them then there these they this those through to too under
        until up upon us use used using very via was we were what when where whether which
        while who whom why will with within without would you your yours day days year years
        time times one two three four five six seven eight ten hundred thousand percent
        around almost already ago"""
    ),
    "it": _words(
        """a ad agli ai al alla alle allo anche ancora anni anno avere c che chi ci come con
        contro cui da dagli dai dal dalla dalle dallo degli dei del della delle dello di dove
        e ed era essere fa fino fra gli ha hanno ho i il in io l la le lo loro ma mai mentre
        mi ne negli nei nel nella nelle nello no noi non nostra nostre nostri nostro o ogni
        per perche piu poi poco poter possa puo qualche quando quanto quasi quella quelle
        quelli quello questa queste questi questo se senza si sia siamo sono sotto su sua sue
        sugli sui sul sulla sulle suo suoi tra tutte tutti tutto un una uno vogliamo vorremmo
        cosi gia molto molti molte dove oltre circa volta volte giorno giorni essere stato
        stata sempre tanto tanti altri altre altro altra cento mille due tre quattro cinque
        sei sette otto nove dieci anch"""
    ),
    "sv": _words(
        """alla allt att av blev bli blir då de dem den denna deras dess det detta dig din
        ditt du efter eftersom ej eller en er era ett för från fram genom ha hade han har hon
        hur i icke ingen inom inte jag ju kan kunde man med mellan men mig min mina mitt mot
        mycket ned någon något när nu och också om oss på samma sedan sig sin sina sitt ska
        skulle som så till under upp ut utan vad var vara vårt vi vid vilka vilken vill även
        över där här hela mer mest bara alltid redan annat andra annan är året årets
        gånger gång dag dagar två tre fyra fem sex sju åtta nio tio hundra tusen procent
        varje våra vår sådan sådana några"""
    ),
}

# Words every programme text is full of: they say nothing about what is needed or offered.
DOMAIN_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """company companies partner partners looking look need needs want wants offer offers
        solution solutions provide provides help helps able way ways new good better best
        system systems service services product products customer customers client clients
        work works working based ideally also including include includes such kind
        support supports small medium large first"""
    ),
    "it": _words(
        """azienda aziende impresa imprese partner cerchiamo cerca cercano serve servono
        soluzione soluzioni offriamo offre nostro nostra nostri nostre modo modi nuovo nuova
        nuovi nuove sistema sistemi servizio servizi prodotto prodotti cliente clienti
        lavoro permette permettono grazie anche vorrebbe vorremmo possono possiamo capire"""
    ),
    "sv": _words(
        """företag företaget företagen partner söker söka behöver behov vill lösning lösningar
        erbjuder erbjuda vår vårt våra nytt nya ny system systemet tjänst tjänster produkt
        produkter kund kunder arbete arbetar hjälper hjälpa sätt sätten gör göra kunna
        finns"""
    ),
}

ALL_STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS.values(), *DOMAIN_STOPWORDS.values())


def stopwords(lang: str | None) -> frozenset[str]:
    if lang in STOPWORDS:
        return STOPWORDS[lang] | DOMAIN_STOPWORDS[lang]
    return ALL_STOPWORDS


# --- stemmers (on folded words) ----------------------------------------------------------------

_SV_SUFFIXES = (
    "heterna", "hetens", "anden", "arnas", "ernas", "ornas", "andes", "andet", "arens",
    "heten", "heter", "arna", "erna", "orna", "ande", "arne", "aste", "ning",
    "het", "ast", "are", "ens", "ern", "ets", "ad", "at", "en", "ar", "er", "or", "et",
    "na", "es", "a", "e", "s",
)  # fmt: skip
_IT_SUFFIXES = (
    "amente", "azioni", "azione", "izioni", "izione", "mente", "zioni", "zione", "abile",
    "ibile", "ista", "iste", "isti", "ismo", "ismi", "anza", "anze", "enza", "enze", "ati",
    "ate", "ato", "ata", "iti", "ite", "ito", "ita", "i", "e", "o", "a",
)  # fmt: skip


def _strip(word: str, suffixes: tuple[str, ...], keep: int) -> str:
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)]
    return word


def stem_en(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def stem_it(word: str) -> str:
    if len(word) <= 4:
        return word
    word = _strip(word, _IT_SUFFIXES, 4)
    if word.endswith(("ch", "gh")):
        word = word[:-1]
    return word


def stem_sv(word: str) -> str:
    if len(word) <= 4:
        return word
    word = _strip(word, _SV_SUFFIXES, 3)
    if word.endswith(("dd", "gd", "nn", "dt", "gt", "kt", "tt")) and len(word) > 4:
        word = word[:-1]
    return word


_STEMMERS = {"en": stem_en, "it": stem_it, "sv": stem_sv}


@lru_cache(maxsize=131_072)
def stem(word: str, lang: str | None) -> str:
    """The stem of a folded word in ``lang`` (the word itself for unknown languages)."""
    stemmer = _STEMMERS.get(lang or "")
    return stemmer(word) if stemmer else word


def root(word: str, length: int = 5) -> str:
    """The first letters of a folded word: cognates across languages often share them
    (``sensori``, ``sensors``, ``sensorer`` → ``senso``)."""
    return word[:length]


# --- language ---------------------------------------------------------------------------------

_SV_LETTERS = frozenset("åäö")
_IT_ENDINGS = ("zione", "zioni", "mente", "ggio", "tà")


def guess_language(words: list[str]) -> str | None:
    """``en``, ``it`` or ``sv`` from the words of a text (as :func:`tokens` gives them); None
    when the words do not tell."""
    votes = dict.fromkeys(LANGUAGES, 0.0)
    for word in words:
        folded = fold(word)
        for lang in LANGUAGES:
            if folded in STOPWORDS[lang]:
                votes[lang] += 1
        if _SV_LETTERS & set(word):
            votes["sv"] += 1
        if word.endswith(_IT_ENDINGS):
            votes["it"] += 0.5
    best = max(votes.values())
    winners = [lang for lang, count in votes.items() if count == best]
    return winners[0] if best >= 2 and len(winners) == 1 else None
