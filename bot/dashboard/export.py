"""The open-data export: aggregate statistics and the approved public items, as JSON or CSV.

The same bytes come from ``innobot export`` and from the dashboard's download. Nothing personal
goes in: no contact details, no chat or person identifiers, no moderators' names; a person's name
only on an item where they chose to show it (``storage.stats.public_items``). The CSV form is a
ZIP of two tables, ``statistics.csv`` (one figure per row) and ``items.csv``.
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
    return OpenData(now, statistics, await stats.public_items(session))


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
