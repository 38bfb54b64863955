"""A keyword analyzer (English, Italian, Swedish): the fallback for innobot's trained NLP pipeline.

It guesses the language from common words, the intent from phrases, and topics from word stems.
A pattern is one or more words; a trailing ``*`` makes its last word a prefix (``energ*`` matches
"energy", "energia" and "energi").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from handlers.context import Analysis
from nlp.labels import TOPICS  # the topics an idea, profile or challenge can be filed under

# Checked in this order; on equal evidence the earlier intent wins.
INTENT_PATTERNS: dict[str, str] = {
    "privacy": """
        privacy gdpr personal\\ data my\\ data delete\\ my* forget\\ me erase\\ my*
        dati\\ personali i\\ miei\\ dati miei\\ dati cancella* riservatezza dimenticami
        integritet* personuppgift* mina\\ uppgifter mina\\ data radera* glöm\\ mig
    """,
    "my_status": """
        status my\\ ideas my\\ submission* my\\ proposals what\\ happened happened\\ to\\ my
        any\\ news stato\\ della stato\\ delle mie\\ idee mie\\ proposte a\\ che\\ punto novità
        mina\\ idéer mina\\ förslag vad\\ hände vad\\ händer\\ med
    """,
    "unsubscribe_alerts": """
        unsubscrib* stop\\ notif* stop\\ alert* stop\\ sending stop\\ the\\ alert*
        no\\ more\\ alert* no\\ more\\ notif* fewer\\ notif* fewer\\ alert* less\\ notif* opt\\ out
        disiscriv* basta\\ notifiche basta\\ avvisi non\\ mandarmi meno\\ notifiche smetti\\ di
        avprenumer* avsluta\\ prenum* avregistr* sluta\\ skicka färre\\ notis* inga\\ fler
    """,
    "subscribe_alerts": """
        alert* notif* subscrib* keep\\ me\\ posted let\\ me\\ know
        avvis* iscriv* tienimi\\ aggiornat* abbonar*
        bevaka* bevakning* prenumer* aviser* notis* håll\\ mig\\ uppdaterad
    """,
    "browse_challenges": """
        challenge* open\\ call* sfida sfide bando bandi utmaning* utlysning*
    """,
    "submit_idea": """
        idea ideas propos* suggest* submit* invent* i\\ have\\ an\\ idea
        idee propongo proporre suggeri* segnala* ho\\ un'\\ idea
        idé idéer idén förslag* föreslå* skicka\\ in jag\\ har\\ en\\ idé
    """,
    "help": """
        help what\\ can\\ you\\ do how\\ does\\ this\\ work how\\ does\\ it\\ work command* menu
        aiuto cosa\\ puoi\\ fare che\\ cosa\\ fai come\\ funziona comandi
        hjälp vad\\ kan\\ du hur\\ funkar hur\\ fungerar kommando* meny*
    """,
    "greeting": """
        hi hello hey hiya good\\ morning good\\ afternoon good\\ evening
        ciao salve buongiorno buonasera buon\\ pomeriggio
        hej hejsan hallå tjena tjenare god\\ morgon god\\ dag god\\ kväll
    """,
}

TOPIC_PATTERNS: dict[str, str] = {
    "manufacturing": """
        manufactur* factory factories assembly machining industri* robot* automation
        manifattur* fabbrica fabbriche produzione automazione stampa\\ 3d
        tillverk* fabrik* produktion* automatiser* 3d\\ print*
    """,
    "materials": """
        material* polymer* composite* coating* alloy* graphene nanomaterial*
        polimer* compositi rivestiment* leghe grafene
        kompositer beläggning* legering* grafen plast*
    """,
    "digital": """
        digital* software app apps platform* internet online cloud cyber* blockchain algorithm*
        artificial\\ intelligence machine\\ learning iot sensor* data
        piattaform* algoritm* intelligenza\\ artificiale dati sensori
        plattform* artificiell\\ intelligens maskininlärning
    """,
    "health": """
        health* hospital* medic* patient* disease* elderly wellbeing clinic*
        salute ospedal* pazient* sanit* malatti* anzian* clinica cure
        hälsa hälso* sjukhus* vård* sjukdom* äldre medicin* klinik*
    """,
    "agrifood": """
        food* agricult* farm farms farmer* farming crop* fisher* aquacultur*
        cibo alimentar* agricol* agricoltur* coltiv* pesca
        livsmedel* jordbruk* lantbruk* mat odling* bonde bönder fiske*
    """,
    "energy": """
        energ* solar renewable* battery batteries hydrogen electricity wind photovolta* heating
        solare rinnovabil* batteri* idrogeno elettric* eolic* fotovolta* riscaldament*
        solcell* förnybar* vätgas elektricitet vindkraft* uppvärmning*
    """,
    "mobility": """
        mobilit* transport* traffic* bus buses bicycle* bike* car cars train trains parking
        logistic*
        vehicle* traffico autobus bici* auto treno treni parcheggi* logistica veicol*
        trafik* cykel* cykl* bil bilar tåg* parkering* logistik* fordon* kollektivtrafik*
    """,
    "environment": """
        environment* pollut* waste recycl* compost* biodivers* emission* circular\\ economy
        ambient* inquinament* clima* rifiut* ricicl* emissioni economia\\ circolare
        miljö* förorening* klimat* avfall* återvinn* kompost* utsläpp* cirkulär*
    """,
    "built_environment": """
        building* construction housing architect* urban* smart\\ city renovation
        edifici* edilizi* costruzion* abitazion* architett* urbanistic* ristruttur*
        bygg* bostad* bostäder arkitekt* stadsplaner* renover*
    """,
    "social": """
        social* community communities inclusion volunteer* school* educat* poverty youth
        cultur* integration accessib* disabilit*
        comunità inclusione volontar* scuol* istruzion* povertà giovani integrazione
        accessibil*
        inkludering* volontär* skol* utbildning* fattigdom* ungdom* kultur* integrering*
        tillgänglig* funktionsneds* förening*
    """,
    "space": """
        space satellit* orbit* rocket* astronaut* aerospace earth\\ observation galileo copernicus
        spazio spaziale razzo razzi aerospazial* osservazione\\ della\\ terra
        rymd* raket* jordobservation*
    """,
    "raw_materials": """
        raw\\ material* mining mines mineral* rare\\ earth* lithium metal* cobalt
        materie\\ prime materia\\ prima miniera miniere estrazione litio cobalto terre\\ rare
        råvar* råmaterial* gruv* malm* litium kobolt sällsynta\\ jordartsmetaller
    """,
}


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent words that give a language away (words shared by the languages are left out).
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        """the and of to is it that for with my we you this be are can would have an on our
        could want how what there your they not from will should about which hello hi thanks
        please"""
    ),
    "it": _wordset(
        """il lo la gli le di del della dello dei delle degli che è un una uno per con non mi
        ho sono come cosa si nel nella al alla allo più questo questa vorrei anche ma dal
        dalla sul sulla ci ciao grazie buongiorno perché essere città nei negli
        nelle agli sugli dagli"""
    ),
    "sv": _wordset(
        """och att det som ett är jag på för med inte av till har vi den om kan min mitt mina
        vill hur vad skulle så också eller från ska sig där här hej tack hallå vår våra
        inom"""
    ),
}

_WORD = re.compile(r"[^\W\d_]+|\d+")

# Without any intent phrase, a text this long is more likely a description than small talk.
_DESCRIPTION_WORDS = 12
# Only the beginning of a very long text is read: enough to tell, and the work stays bounded.
_MAX_CHARS = 5000


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text`` (Italian elisions split: "l'idea" → "l", "idea")."""
    return _WORD.findall(text.casefold())


@dataclass(frozen=True, slots=True)
class Pattern:
    words: tuple[str, ...]
    prefix: bool

    @classmethod
    def parse(cls, text: str) -> Pattern:
        prefix = text.endswith("*")
        return cls(tuple(tokenize(text.rstrip("*").replace("\\ ", " "))), prefix)

    def matches_at(self, tokens: list[str], start: int) -> bool:
        found = tokens[start : start + len(self.words)]
        if len(found) < len(self.words) or found[:-1] != list(self.words[:-1]):
            return False
        last, wanted = found[-1], self.words[-1]
        return last.startswith(wanted) if self.prefix else last == wanted


class Lexicon:
    """Patterns of several classes (intents or topics), indexed so that a text is read once."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.names = tuple(table)
        # Single-word prefixes, looked up by every prefix of a token.
        self._stems: dict[str, list[str]] = defaultdict(list)
        # Everything else, looked up by its first word.
        self._phrases: dict[str, list[tuple[str, Pattern]]] = defaultdict(list)
        for name, spec in table.items():
            for item in re.split(r"(?<!\\)\s+", spec.strip()):
                pattern = Pattern.parse(item)
                if pattern.prefix and len(pattern.words) == 1:
                    self._stems[pattern.words[0]].append(name)
                else:
                    self._phrases[pattern.words[0]].append((name, pattern))
        self._longest_stem = max(map(len, self._stems), default=0)

    def weigh(self, tokens: list[str]) -> dict[str, int]:
        """Evidence for each class; a phrase of n words weighs n."""
        scores = dict.fromkeys(self.names, 0)
        for index, token in enumerate(tokens):
            for name, pattern in self._phrases.get(token, ()):
                if pattern.matches_at(tokens, index):
                    scores[name] += len(pattern.words)
            for end in range(1, min(len(token), self._longest_stem) + 1):
                for name in self._stems.get(token[:end], ()):
                    scores[name] += 1
        return scores


class KeywordAnalyzer:
    """A :class:`~handlers.context.TextAnalyzer` that needs no trained model."""

    def __init__(self) -> None:
        self._intents = Lexicon(INTENT_PATTERNS)
        self._topics = Lexicon(TOPIC_PATTERNS)

    def analyze(self, text: str) -> Analysis:
        tokens = tokenize(text[:_MAX_CHARS])
        topics = self.topics(tokens)
        intent, score = self.intent(tokens, bool(topics))
        return Analysis(self.language(tokens), intent, score, topics)

    @staticmethod
    def language(tokens: list[str]) -> str:
        """``en``, ``it`` or ``sv``; empty when the words do not tell."""
        votes = {lang: sum(token in words for token in tokens) for lang, words in STOPWORDS.items()}
        votes["sv"] += sum(1 for token in tokens if set(token) & set("åäö"))
        best = max(votes.values())
        winners = [lang for lang, count in votes.items() if count == best]
        return winners[0] if best > 0 and len(winners) == 1 else ""

    def intent(self, tokens: list[str], has_topics: bool) -> tuple[str, float]:
        scores = self._intents.weigh(tokens)
        if len(tokens) > 4:
            # Greetings only count when the greeting is all there is.
            scores["greeting"] = 0
        best = max(scores.values())
        if best > 0:
            name = next(name for name, score in scores.items() if score == best)
            return name, min(1.0, 0.5 + 0.2 * best)
        if len(tokens) >= _DESCRIPTION_WORDS and has_topics:
            return "submit_idea", 0.3
        return "out_of_scope", 0.3

    def topics(self, tokens: list[str]) -> tuple[tuple[str, float], ...]:
        """Topics with evidence, strongest first, with scores that add up to 1."""
        hits = self._topics.weigh(tokens)
        total = sum(hits.values())
        if not total:
            return ()
        ranked = sorted(
            (name for name in TOPICS if hits[name]), key=lambda n: hits[n], reverse=True
        )
        return tuple((name, round(hits[name] / total, 3)) for name in ranked)
