"""Demo data for ``innobot chat --demo``: a few approved challenges, profiles and ideas."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    Challenge,
    Confidentiality,
    Idea,
    InfrastructureProfile,
    Organisation,
    SolutionProfile,
    Status,
)

APPROVED = Status.APPROVED.value


def _items(today: date) -> list[object]:
    hospital = Organisation(name="Ospedale Metropolitano di Milano", kind="hospital", country="IT")
    steelworks = Organisation(name="Nordic Steel Forming AB", kind="company", country="SE")
    vision = Organisation(name="VisionLine S.r.l.", kind="sme", country="IT", region="Lombardia")
    lab = Organisation(name="Umeå Pilot Plant", kind="infrastructure", country="SE")
    return [
        hospital,
        steelworks,
        vision,
        lab,
        Challenge(
            organisation=hospital,
            title="Ridurre le attese al pronto soccorso",
            description=(
                "Cerchiamo soluzioni digitali per prevedere gli accessi al pronto soccorso e "
                "organizzare i turni del personale, integrate con i sistemi ospedalieri."
            ),
            lang="it",
            topics=["health", "digital"],
            topic_scores={"health": 0.9, "digital": 0.7},
            deadline=today + timedelta(days=45),
            offer="pilot",
            confidentiality=Confidentiality.PUBLIC.value,
            status=APPROVED,
        ),
        Challenge(
            organisation=steelworks,
            title="Detecting scratches on stamped parts",
            description=(
                "Our press line stamps 20,000 steel parts a day. We need automatic detection of "
                "scratches and dents before parts are packed, without slowing the line."
            ),
            lang="en",
            topics=["manufacturing", "digital"],
            topic_scores={"manufacturing": 0.9, "digital": 0.6},
            deadline=today + timedelta(days=30),
            offer="contract",
            confidentiality=Confidentiality.ANONYMOUS.value,
            status=APPROVED,
        ),
        Challenge(
            title="Fossilfri uppvärmning av lokaler i glesbygd",
            description=(
                "Kommunen söker lösningar för att värma skolor och äldreboenden utan fossila "
                "bränslen, med låg driftkostnad och lokal förankring."
            ),
            lang="sv",
            topics=["energy", "built_environment"],
            topic_scores={"energy": 0.9, "built_environment": 0.6},
            deadline=today + timedelta(days=60),
            offer="co-development",
            confidentiality=Confidentiality.PUBLIC.value,
            status=APPROVED,
        ),
        SolutionProfile(
            organisation=vision,
            title="Machine vision for surface defects",
            description=(
                "Camera systems and deep-learning software that find surface defects such as "
                "scratches, dents and cracks on metal parts at line speed."
            ),
            lang="en",
            topics=["manufacturing", "digital"],
            topic_scores={"manufacturing": 0.8, "digital": 0.8},
            trl=7,
            region="Lombardia",
            country="IT",
            languages=["it", "en"],
            share_contact=True,
            status=APPROVED,
        ),
        InfrastructureProfile(
            organisation=lab,
            title="Pilotanläggning för bioraffinaderi",
            description="Skalbar pilotanläggning för att testa processer med skogsråvara.",
            services="Processtester, analys, uppskalning",
            equipment="Reaktorer 10–500 l, torkar, analyslabb",
            price_model="Dagpris, rabatt för små företag",
            lead_time="4 veckor",
            location="Umeå",
            lang="sv",
            topics=["raw_materials", "energy"],
            topic_scores={"raw_materials": 0.8, "energy": 0.5},
            status=APPROVED,
        ),
        Idea(
            title="Community repair cafés in every library",
            description=(
                "Volunteers and libraries could host monthly repair cafés so that people fix "
                "electronics and clothes instead of throwing them away."
            ),
            lang="en",
            topics=["environment", "social"],
            topic_scores={"environment": 0.8, "social": 0.7},
            status=APPROVED,
        ),
        Idea(
            title="Fermate dell'autobus su richiesta in valle",
            description=(
                "Nelle valli poco abitate un servizio di autobus a chiamata, prenotabile via chat, "
                "collegherebbe i paesi alle stazioni."
            ),
            lang="it",
            topics=["mobility", "social"],
            topic_scores={"mobility": 0.9, "social": 0.5},
            status=APPROVED,
        ),
    ]


async def seed_demo(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Add the demo items once (nothing is added when challenges already exist)."""
    async with sessions() as session, session.begin():
        existing = (await session.execute(select(func.count()).select_from(Challenge))).scalar_one()
        if existing:
            return 0
        items = _items(date.today())
        session.add_all(items)
        return sum(not isinstance(item, Organisation) for item in items)
