"""The open-data export: aggregate statistics and the approved public items, as JSON or CSV.

The same bytes come from ``innobot export`` and from the dashboard's download. Nothing personal
goes in: no contact details, no chat or person identifiers, no moderators' names; a person's name
only on an item where they chose to show it (``storage.stats.public_items``). The CSV form is a
ZIP of two tables, ``statistics.csv`` (one figure per row) and ``items.csv``.

The engagement figures of single communities, consultations and events are small numbers about
few people, so they are protected (:func:`protect`): 1 to 4 is published as null, larger counts
rounded to the nearest 5; a consultation's results appear only once it has closed, as counts, and
only with 5 answers or more; free-text answers never appear.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from storage import stats
from storage.models import utcnow

Format = Literal["json", "csv"]
FORMATS: Final = ("json", "csv")
ITEM_COLUMNS: Final = (
    "ref",
    "kind",
    "title",
    "description",
    "topics",
    "language",
    "published",
    "author",
    "organisation",
    "region",
    "country",
    "deadline",
    "trl",
    "offer",
)
# Per-unit engagement counts: below this (and above 0) suppressed, from it on rounded to it.
SMALL: Final = stats.SUPPRESSED_BELOW
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class OpenData:
    generated_at: datetime
    statistics: dict[str, Any]
    items: list[stats.PublicItem]


def _hours(value: Any) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 1)


async def collect(session: AsyncSession, *, now: datetime | None = None) -> OpenData:
    now = now or utcnow()
    overview = await stats.overview(session, now=now)
    funnel = await stats.funnel(session, now=now)
    moderation = await stats.moderation(session, now=now)
    alerts = await stats.alerts(session, now=now)
    months = overview.months
    statistics: dict[str, Any] = {
        "participants": {"total": overview.participants, "by_role": overview.by_role},
        "organisations": overview.organisations,
        "submissions": {
            kind: {"submitted": overview.submissions[kind], "published": overview.approved[kind]}
            for kind in stats.KINDS
        },
        "participants_per_month": dict(zip(months, overview.monthly["participants"], strict=True)),
        "submissions_per_month": {
            month: {kind: overview.monthly[kind][i] for kind in stats.KINDS}
            for i, month in enumerate(months)
        },
        "submissions_per_topic": overview.topics,
        "brokerage": {
            "stages": funnel.stages,
            "declined": funnel.declined,
            "no_follow_up": funnel.no_follow_up,
            "per_topic": funnel.topics,
            "per_month_of_suggestion": {
                month: {stage: funnel.monthly[stage][i] for stage in stats.STAGES}
                for i, month in enumerate(funnel.months)
            },
        },
        "moderation": {
            "waiting": moderation.queue,
            "decided": moderation.decided,
            "median_hours_to_decision": _hours(moderation.median_to_decision),
            "decisions_per_month": dict(
                zip(moderation.months, moderation.monthly_decisions, strict=True)
            ),
        },
        "alerts": {
            "active_subscriptions": alerts.active,
            "subscriptions_per_topic": alerts.topics,
            "messages": alerts.deliveries,
        },
    }
    statistics["engagement"] = engagement_figures(await stats.engagement(session, now=now))
    return OpenData(now, statistics, await stats.public_items(session))


def protect(count: int) -> int | None:
    """A count about a single community, consultation or event as the open data gives it:
    0 stays 0, 1 to 4 becomes null, anything larger is rounded to the nearest 5."""
    if count <= 0:
        return 0
    if count < SMALL:
        return None
    return SMALL * int(count / SMALL + 0.5)


def _rate(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 2) if part is not None and whole else None


def _event(event: stats.EventFigures) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "title": event.title,
        "kind": event.kind,
        "status": event.status,
        "starts": event.starts_at.date().isoformat(),
        "registrations": protect(event.registrations),
        "waiting_list": protect(event.waiting),
        "cancellations": protect(event.cancellations),
    }
    if event.attendance is not None:  # only once it has begun (and was not called off)
        entry["attendance"] = protect(event.attendance)
    return entry


def engagement_figures(found: stats.Engagement) -> dict[str, Any]:
    """The engagement statistics of the open data: exact programme totals, protected units."""
    totals = found.events_total
    per_consultation: dict[str, Any] = {}
    for c in found.consultations:
        audience, answers = protect(c.audience), protect(c.answers)
        entry: dict[str, Any] = {
            "question": c.question,
            "kind": c.kind,
            "status": c.status,
            "opens": c.opens_at.date().isoformat(),
            "closes": c.closes_at.date().isoformat(),
            "audience": audience,
            "answers": answers,
            "participation_rate": _rate(protect(c.answers_from_audience), audience),
        }
        if c.results is not None:
            shown = c.answers >= SMALL
            entry["results"] = {
                f"{i + 1}. {option}": protect(n) if shown else None
                for i, (option, n) in enumerate(zip(c.options, c.results, strict=True))
            }
        per_consultation[f"Q-{c.id}"] = entry
    return {
        "about": (
            f"Counts of single communities, consultations and events: 1 to {SMALL - 1} "
            f"published as null, larger counts rounded to the nearest {SMALL}. Results of "
            f"closed consultations with at least {SMALL} answers, as counts only."
        ),
        "participants": found.participants,
        "communities": {
            "active": sum(c.active for c in found.communities),
            "members": found.members,
            "reports": sum(c.reports for c in found.communities),
            "reports_acted_on": found.reports["acted_on"],
            "reports_dismissed": found.reports["dismissed"],
            "posts": found.posts,
        },
        "per_community": {
            f"C-{c.id}": {
                "name": c.name,
                "active": c.active,
                "members": protect(c.members),
                "reports": protect(c.reports),
                "posts": protect(c.posts),
            }
            for c in found.communities
        },
        "consultations": {
            "total": len(found.consultations),
            "closed": sum(c.status == "closed" for c in found.consultations),
            "answers": found.answers,
        },
        "per_consultation": per_consultation,
        "events": {
            "total": len(found.events),
            "held": totals["held"],
            "cancelled": totals["cancelled"],
            "registrations": totals["registrations"],
            "waiting_list": totals["waiting"],
            "cancellations": totals["cancellations"],
            "attendance": totals["attendance"],
        },
        "per_event": {f"E-{e.id}": _event(e) for e in found.events},
        "per_month": {
            month: {name: found.monthly[name][i] for name in found.monthly}
            for i, month in enumerate(found.months)
        },
    }


def _item_row(item: stats.PublicItem) -> dict[str, Any]:
    row = asdict(item)
    extra = row.pop("extra")
    row["topics"] = list(item.topics)
    return row | {"trl": extra.get("trl"), "offer": extra.get("offer")}


def to_json(data: OpenData) -> bytes:
    document = {
        "generator": "innobot",
        "generated_at": data.generated_at.isoformat(timespec="seconds"),
        "about": (
            "Aggregate statistics of the programme and its approved public items. "
            "No personal data: names only where their owners chose to show them."
        ),
        "statistics": data.statistics,
        "items": [_item_row(item) for item in data.items],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str, Any]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict):
                _flatten(f"{prefix}.{key}" if prefix else str(key), inner, rows)
            else:
                rows.append((prefix, str(key), inner))
    else:
        rows.append(("", prefix, value))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def to_csv_zip(data: OpenData) -> bytes:
    figures: list[tuple[str, str, Any]] = []
    _flatten("", data.statistics, figures)
    items = [tuple(_item_row(item)[column] for column in ITEM_COLUMNS) for item in data.items]
    stamp = data.generated_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (
            ("statistics.csv", _csv(("statistic", "key", "value"), list(figures))),
            ("items.csv", _csv(ITEM_COLUMNS, items)),
        ):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def render(data: OpenData, fmt: Format) -> tuple[bytes, str, str]:
    """The export's bytes, its media type and a file name for it."""
    day = data.generated_at.date().isoformat()
    if fmt == "json":
        return to_json(data), "application/json", f"innobot-open-data-{day}.json"
    return to_csv_zip(data), "application/zip", f"innobot-open-data-{day}.zip"
