"""The fake's tests' client: the key, tenant and span they use, and how they read pages."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

if t.TYPE_CHECKING:
    import requests

    from tap_crescendo.fake_api import FakeCrescendo

KEY = "fake-api-key"
#: A key that may read only "tenant-beta".
OTHER_KEY = "beta-only-key"
TENANT = "tenant-alpha"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z
END_MS = START_MS + 10 * DAY_MS
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

Row = dict[str, t.Any]

#: The fields of a bot conversation, in the order the API sends them.
BOT_KEYS = [
    "ID",
    "TenantID",
    "BotID",
    "BotName",
    "Datetime",
    "EndDatetime",
    "DatetimeUTC",
    "EndDatetimeUTC",
    "Duration",
    "Escalated",
    "escalatedAt",
    "CSat",
    "AgentName",
    "AgentId",
    "AgentEmail",
    "Category",
    "Subcategory",
    "Tertiary",
    "RemoteIp",
    "userAgent",
    "Referrer",
    "Media",
    "Summary",
    "Handoff Reason",
    "ticketId",
    "ticketUrl",
    "ticketKind",
    "Input",
    "Contact Name",
    "Contact Email",
    "Contact Phone",
]

#: The fields of a VOC conversation, in the order of the OpenAPI's `VocConversationRow`.
VOC_KEYS = [
    "ID",
    "TenantID",
    "Datetime",
    "DatetimeUTC",
    "Duration",
    "Direction",
    "Media",
    "AgentName",
    "AgentId",
    "AgentEmail",
    "CustomerName",
    "CustomerId",
    "CustomerEmail",
    "Groups",
    "Tags",
    "Category",
    "Subcategory",
    "Tertiary",
    "CategoryExplanation",
    "CategoriesId",
    "Summary",
    "CSat",
    "CSatExplanation",
    "Sentiment",
    "SentimentExplanation",
    "Problems",
    "KPIs",
    "SourceSystem",
    "TicketId",
    "TicketUrl",
]


@dataclass
class Api:
    """A running fake and a session to call it with (one try per request: requests' default)."""

    fake: FakeCrescendo
    url: str
    session: requests.Session

    def path(self, export: str = "botconv", *, tenant: str = TENANT) -> str:
        """The raw path of an export, the tenant percent-encoded as one segment."""
        return f"/api/v1/reporting/tenants/{quote(tenant, safe='')}/{export}"

    def get(
        self,
        params: dict[str, t.Any] | None = None,
        *,
        export: str = "botconv",
        tenant: str = TENANT,
        key: str | None = KEY,
        timeout: float = 10,
    ) -> requests.Response:
        """GET an export with `params`, authenticated with `key` unless it is None."""
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.session.get(
            self.url + self.path(export, tenant=tenant),
            params=params,
            headers=headers,
            timeout=timeout,
        )

    def ok(self, params: dict[str, t.Any], *, export: str = "botconv") -> dict[str, t.Any]:
        """The body of a request that must succeed."""
        response = self.get(params, export=export)
        assert response.status_code == 200, response.text
        body: dict[str, t.Any] = response.json()
        return body

    def pages(self, params: dict[str, t.Any], *, export: str = "botconv") -> list[dict[str, t.Any]]:
        """Every page of a query, following cursor.next with the first request's limit."""
        limit = {"limit": params["limit"]} if "limit" in params else {}
        bodies = [self.ok(params, export=export)]
        while bodies[-1]["cursor"].get("next"):
            bodies.append(self.ok({"cursor": bodies[-1]["cursor"]["next"], **limit}, export=export))
        return bodies

    def ids(self, params: dict[str, t.Any], *, export: str = "botconv") -> list[str]:
        """The IDs of every page of a query, in the order served."""
        return ids(self.pages(params, export=export))

    def statuses(self, count: int, params: dict[str, t.Any]) -> list[int]:
        """The statuses of `count` requests for `params`."""
        return [self.get(params).status_code for _ in range(count)]


def span(from_ms: int, to_ms: int, **extra: t.Any) -> dict[str, t.Any]:
    """The parameters of a first request for `[from_ms, to_ms)`, plus `extra`."""
    return {"from": str(from_ms), "to": str(to_ms), **extra}


def ids(bodies: list[dict[str, t.Any]]) -> list[str]:
    """The IDs of the rows of `bodies`, in order."""
    return [row["ID"] for body in bodies for row in body["data"]]


def ids_between(rows: list[Row], from_ms: int, to_ms: int) -> set[str]:
    """The IDs of the bot rows that started in `[from_ms, to_ms)`."""
    return {row["ID"] for row in rows if from_ms <= row["Datetime"] < to_ms}


def ascending(rows: list[Row]) -> list[Row]:
    """Bot rows oldest first, as the fake orders them by default."""
    return sorted(rows, key=lambda row: (row["Datetime"], row["ID"]))


def instant_ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 timestamp, parsed independently of the fake."""
    moment = datetime.strptime(
        text, "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z"
    )
    return (moment - EPOCH) // timedelta(milliseconds=1)


def by_instant(row: Row) -> tuple[int, str]:
    """The sort key of a VOC row: its start instant, then its ID."""
    return instant_ms(row["DatetimeUTC"]), row["ID"]
