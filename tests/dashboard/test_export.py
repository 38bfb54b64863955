"""The open-data export publishes figures and approved public items, and nothing personal.

A store is filled with personal data in every place personal data can be (names, platform
identifiers, contact details, moderators, subscriptions' keywords, messages, conversation state,
items not approved, restricted challenges, dashboard accounts); each piece is a "canary" string
that must not appear anywhere in the JSON export or in any file of the CSV archive.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from bot.dashboard import export
from storage.accounts import add_account
from storage.models import (
    Challenge,
    Consultation,
    ConsultationAnswer,
    ConversationState,
    Idea,
    Identity,
    InfrastructureProfile,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    Person,
    SolutionProfile,
    Subscription,
)
from tests.dashboard.conftest import NOW, PASSWORD
from tests.dashboard.test_engagement_stats import DAY, engagement_programme

Sessions = async_sessionmaker[AsyncSession]

CANARIES = (
    "Cassandra Hidden-Name",  # a person who did not choose to show her name
    "Identity Hidden-Name",  # her name on Telegram
    "4815162342",  # her Telegram user and chat id
    "hidden-handle",  # her Telegram username
    "cassandra@hidden.example",  # contact details of a profile and of challenges
    "+39 333 0001122",
    "lab-desk@hidden.example",
    "@hidden-moderator:example.org",  # a moderator
    "a moderator's private reason",
    "hiddenkeyword",  # a subscription's keyword
    "an outbox message for her",  # what innobot sent her
    "half-typed idea in a flow",  # an unfinished conversation
    "Pending hidden idea",  # items not approved
    "Rejected hidden challenge",
    "Restricted hidden challenge",  # approved, but not for the public
    "hidden-dashboard-admin",  # a dashboard account
    "https://hidden.example/website",  # an organisation's website (not part of the export)
)


async def fill_with_personal_data(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        org = Organisation(name="Open Lab Srl", website="https://hidden.example/website")
        cassandra = Person(display_name="Cassandra Hidden-Name", role="sme", organisation=org)
        cassandra.identities.append(
            Identity(
                platform="telegram",
                external_id="4815162342",
                chat_id="4815162342",
                display_name="Identity Hidden-Name hidden-handle",
            )
        )
        shown = Person(display_name="Victor Visible", role="citizen")
        session.add_all([org, cassandra, shown])
        await session.flush()
        common = {"description": "A public description of this item.", "created_at": NOW}
        session.add_all(
            [
                Idea(title="Approved idea, name hidden", status="approved", show_name=False,
                     person_id=cassandra.id, topics=["energy"], **common),
                Idea(title="Approved idea, name shown", status="approved", show_name=True,
                     person_id=shown.id, topics=["=cmd|' /C calc'!A0"], **common),
                Idea(title="Pending hidden idea", status="pending", show_name=True,
                     person_id=cassandra.id, **common),
                SolutionProfile(title="Approved solution", status="approved",
                                person_id=cassandra.id, organisation_id=org.id,
                                contact="cassandra@hidden.example", share_contact=True, **common),
                InfrastructureProfile(title="Approved lab", status="approved",
                                      person_id=cassandra.id, contact="lab-desk@hidden.example",
                                      share_contact=True, **common),
                Challenge(title="Approved public challenge", status="approved",
                          person_id=cassandra.id, contact="+39 333 0001122",
                          organisation_id=org.id, **common),
                Challenge(title="Rejected hidden challenge", status="rejected",
                          contact="+39 333 0001122", **common),
                Challenge(title="Restricted hidden challenge", status="approved",
                          confidentiality="restricted", contact="+39 333 0001122", **common),
            ]
        )  # fmt: skip
        session.add_all(
            [
                ModerationDecision(item_kind="idea", item_id=1, action="approve",
                                   moderator="@hidden-moderator:example.org",
                                   reason="a moderator's private reason", created_at=NOW),
                Subscription(person_id=cassandra.id, topics=["energy"],
                             keywords=["hiddenkeyword"]),
                OutboxMessage(platform="telegram", chat_id="4815162342", person_id=cassandra.id,
                              kind="alert", status="sent", sent_at=NOW,
                              payload={"text": "an outbox message for her"}),
                ConversationState(platform="telegram", chat_id="4815162342",
                                  user_id="4815162342", flow="idea", step="title",
                                  data={"description": "half-typed idea in a flow"}),
            ]
        )  # fmt: skip
        await add_account(session, "hidden-dashboard-admin", PASSWORD)


def every_text(archive: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        return "\n".join(zipped.read(name).decode("utf-8") for name in zipped.namelist())


async def test_nothing_personal_leaks_into_the_export(sessions: Sessions) -> None:
    await fill_with_personal_data(sessions)
    async with sessions() as session:
        data = await export.collect(session, now=NOW)
    as_json = export.to_json(data).decode("utf-8")
    as_csv = every_text(export.to_csv_zip(data))
    for canary in CANARIES:
        assert canary not in as_json, canary
        assert canary not in as_csv, canary
    # What may be published is: the approved items, and a name its owner chose to show.
    titles = sorted(item["title"] for item in json.loads(as_json)["items"])
    assert titles == [
        "Approved idea, name hidden",
        "Approved idea, name shown",
        "Approved lab",
        "Approved public challenge",
        "Approved solution",
    ]
    assert "Victor Visible" in as_json
    assert "Victor Visible" in as_csv
    assert "Open Lab Srl" in as_json  # an organisation's name is public


async def test_the_csv_tables(sessions: Sessions) -> None:
    await fill_with_personal_data(sessions)
    async with sessions() as session:
        data = await export.collect(session, now=NOW)
    with zipfile.ZipFile(io.BytesIO(export.to_csv_zip(data))) as zipped:
        statistics = list(csv.DictReader(io.StringIO(zipped.read("statistics.csv").decode())))
        items = list(csv.DictReader(io.StringIO(zipped.read("items.csv").decode())))
    figures = {(row["statistic"], row["key"]): row["value"] for row in statistics}
    assert figures[("participants", "total")] == "2"
    assert figures[("participants.by_role", "sme")] == "1"
    assert figures[("submissions.challenge", "submitted")] == "3"
    assert figures[("submissions.challenge", "published")] == "2"
    assert figures[("alerts", "active_subscriptions")] == "1"
    assert figures[("submissions_per_month.2026-06", "idea")] == "3"
    assert list(items[0]) == list(export.ITEM_COLUMNS)
    shown = next(row for row in items if row["title"] == "Approved idea, name shown")
    assert shown["author"] == "Victor Visible"
    # A spreadsheet would run this cell as a formula: it is published as text.
    assert shown["topics"] == "'=cmd|' /C calc'!A0"


def test_innobot_export_writes_json_and_csv(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade

    async def prepare() -> None:
        await upgrade(sqlite_url)
        engine = create_engine(sqlite_url)
        try:
            await fill_with_personal_data(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("INNOBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setattr("bot.logs.configure", lambda *args: None)
    json_path = tmp_path / "open.json"
    zip_path = tmp_path / "open.zip"
    assert main(["export", "--format", "json", "--output", str(json_path)]) == 0
    assert main(["export", "--format", "csv", "--output", str(zip_path)]) == 0
    document = json.loads(json_path.read_text("utf-8"))
    assert len(document["items"]) == 5
    assert document["statistics"]["engagement"]["participants"] == 0
    assert "Victor Visible" in every_text(zip_path.read_bytes())
    for canary in CANARIES:
        assert canary not in json_path.read_text("utf-8")


# --- engagement ----------------------------------------------------------------------------------


def test_small_counts_are_suppressed_and_the_rest_rounded() -> None:
    assert [export.protect(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 1002)] == [
        0, None, None, 5, 5, 10, 10, 15, 1000]  # fmt: skip


async def test_an_empty_programme_has_an_engagement_section(sessions: Sessions) -> None:
    async with sessions() as session:
        data = await export.collect(session, now=NOW)
    found = data.statistics["engagement"]
    assert found["participants"] == 0
    assert found["communities"] == {"active": 0, "members": 0, "reports": 0,
                                    "reports_acted_on": 0, "reports_dismissed": 0,
                                    "posts": 0}  # fmt: skip
    assert found["per_community"] == found["per_consultation"] == found["per_event"] == {}
    assert found["events"]["attendance"] == 0
    assert len(found["per_month"]) == 12


async def test_the_engagement_figures_protect_the_few(sessions: Sessions) -> None:
    ids = await engagement_programme(sessions, NOW)
    async with sessions() as session:
        data = await export.collect(session, now=NOW)
    found = data.statistics["engagement"]
    # Programme totals are exact, like the rest of the export.
    assert found["participants"] == 6
    assert found["communities"]["members"] == 5
    assert found["consultations"] == {"total": 4, "closed": 2, "answers": 6}
    assert found["events"] == {"total": 3, "held": 1, "cancelled": 1, "registrations": 6,
                               "waiting_list": 1, "cancellations": 2,
                               "attendance": 2}  # fmt: skip
    energy = found["per_community"][f"C-{ids.communities[0]}"]
    assert energy == {"name": "Energy Lombardy", "active": True, "members": None, "reports": None,
                      "posts": None}  # fmt: skip
    q1, q2, q3, q4 = (found["per_consultation"][f"Q-{n}"] for n in ids.consultations)
    assert (q1["answers"], q1["participation_rate"]) == (None, None)
    assert q1["results"] == {"1. Sun": None, "2. Wind": None, "3. Water": None}  # 4 answers
    assert (q2["audience"], q2["answers"], q2["participation_rate"]) == (None, 0, None)
    assert "results" not in q2  # still open
    assert "results" not in q3
    assert (q4["kind"], q4["status"]) == ("text", "closed")
    assert "results" not in q4  # free text: a count, never the texts
    held, called_off, coming = (found["per_event"][f"E-{n}"] for n in ids.events)
    assert (held["registrations"], held["attendance"]) == (None, None)
    assert "attendance" not in called_off
    assert "attendance" not in coming
    assert held["starts"] == (NOW - 7 * DAY).date().isoformat()
    as_json = export.to_json(data).decode("utf-8")
    as_csv = every_text(export.to_csv_zip(data))
    for private in ("More trains", "Cheaper buses", "Person 1", "-1001", "!health:example.org",
                    "consultation:", "event:1:g:1", "@mod:example.org"):  # fmt: skip
        assert private not in as_json, private
        assert private not in as_csv, private


async def test_a_closed_consultation_with_enough_answers_publishes_rounded_counts(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        people = [Person(display_name=f"Voter {n}", role="citizen") for n in range(20)]
        question = Consultation(question="@Where next?", options=["=Umeå", "Milano", "Skellefteå"],
                                opens_at=NOW - 9 * DAY, closes_at=NOW - 2 * DAY,
                                status="closed", created_by="@mod:example.org")  # fmt: skip
        session.add_all([*people, question])
        await session.flush()
        for n, someone in enumerate(people):
            session.add(
                OutboxMessage(platform="telegram", chat_id=str(n), person_id=someone.id,
                              kind="consultation", status="sent", payload={"text": "?"},
                              dedupe_key=f"consultation:{question.id}:p:{someone.id}")
            )  # fmt: skip
        for someone, choice in zip(people, [0] * 8 + [1] * 3 + [2], strict=False):
            session.add(ConsultationAnswer(consultation_id=question.id, person_id=someone.id,
                                           choices=[choice], created_at=NOW - 5 * DAY))  # fmt: skip
    async with sessions() as session:
        data = await export.collect(session, now=NOW)
    found = data.statistics["engagement"]["per_consultation"][f"Q-{question.id}"]
    assert (found["audience"], found["answers"], found["participation_rate"]) == (20, 10, 0.5)
    assert found["results"] == {"1. =Umeå": 10, "2. Milano": None, "3. Skellefteå": None}
    with zipfile.ZipFile(io.BytesIO(export.to_csv_zip(data))) as zipped:
        rows = list(csv.DictReader(io.StringIO(zipped.read("statistics.csv").decode())))
    figures = {(row["statistic"], row["key"]): row["value"] for row in rows}
    results = f"engagement.per_consultation.Q-{question.id}.results"
    assert figures[(results, "1. =Umeå")] == "10"
    # A spreadsheet would run this as a formula: it is published as text.
    assert figures[(f"engagement.per_consultation.Q-{question.id}", "question")] == "'@Where next?"
    assert figures[(results, "2. Milano")] == ""
    assert figures[(f"engagement.per_consultation.Q-{question.id}", "participation_rate")] == "0.5"
    assert figures[("engagement.consultations", "answers")] == "12"
    document = json.loads(export.to_json(data))
    assert "Voter" not in json.dumps(document)
