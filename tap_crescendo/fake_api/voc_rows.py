"""Deterministic VOC (voice of the customer) conversation rows, shaped like the reporting API's."""

from __future__ import annotations

import random
import uuid
from typing import Any

from tap_crescendo.fake_api.rows import (
    AGENTS,
    CATEGORIES,
    FIRST_NAMES,
    LAST_NAMES,
    NULL_EVERY,
    ascii_handle,
    utc_text,
    variant,
)

MEDIA = ("voice", "email", "chat", "sms")
SOURCE_SYSTEMS = ("zendesk", "salesforce", "freshdesk", "genesys", "five9")
GROUPS = ("Tier 1", "Billing", "Retention", "Après-vente")
TAGS = ("vip", "refund", "churn-risk", "café", "follow-up")
# Minutes east of UTC that a row's `Datetime` is written in; `DatetimeUTC` is always "Z".
OFFSETS_MIN = (0, 120)
PROBLEMS = (
    {"name": "late reply", "severity": 2},
    {"name": "wrong answer", "severity": 3},
    {"name": "transferred twice", "severity": 1, "note": "agent \u2192 queue \u2192 agent"},
)
CSAT_REASONS = (
    "Customer thanked the agent twice.",
    'Customer said "finally" when the refund was confirmed.',
    "Long hold time, but the issue was solved.",
)
SENTIMENT_REASONS = (
    "Frustrated at first, relieved at the end.",
    "Neutral tone throughout.",
    "Angry about a repeated delivery failure \u2013 asked for a manager.",
)
SUMMARIES = (
    "Customer called about order {n}; the agent re-sent the parcel.",
    "Refund for order {n} approved after a supervisor check.",
    "Kundin fragte nach der Rechnung {n}; Betrag korrigiert.",
    'Customer reported "payment declined" on checkout, card updated.',
)
# Each of these is null in every row whose index plus the field's position is a multiple of 11.
NULLABLE_TEXT = (
    "Media",
    "AgentName",
    "AgentEmail",
    "CustomerName",
    "CustomerEmail",
    "Category",
    "Subcategory",
    "Tertiary",
    "CategoryExplanation",
    "CategoriesId",
    "Summary",
    "CSatExplanation",
    "SentimentExplanation",
    "SourceSystem",
    "TicketUrl",
)
_VERSION_7 = 0x7 << 76
_VARIANT_RFC4122 = 0b10 << 62


def generate_voc_rows(
    count: int, *, start_ms: int, end_ms: int, seed: int = 0, tenant_id: str = "tenant-alpha"
) -> list[dict[str, Any]]:
    """Return `count` VOC conversations starting in [start_ms, end_ms), the same for the same seed.

    Type variants cycle on the row index, so any 50 or more rows hold every variant the API
    allows. IDs are version 7 UUIDs, so they never equal the (version 4) bot IDs.
    """
    if count < 0 or end_ms <= start_ms:
        msg = f"need count >= 0 and start_ms < end_ms, got {count}, {start_ms}, {end_ms}"
        raise ValueError(msg)
    rng = random.Random(f"voc-{seed}")
    id_mask = rng.getrandbits(32)
    return [
        _voc_row(index, index ^ id_mask, rng, start_ms=start_ms, end_ms=end_ms, tenant_id=tenant_id)
        for index in range(count)
    ]


def offset_text(epoch_ms: int, offset_min: int) -> str:
    """Format epoch milliseconds as RFC 3339 at `offset_min` minutes east of UTC ("Z" when 0)."""
    if offset_min == 0:
        return utc_text(epoch_ms)
    sign = "+" if offset_min > 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{utc_text(epoch_ms + offset_min * 60_000)[:-1]}{sign}{hours:02d}:{minutes:02d}"


def _voc_row(
    index: int, id_tail: int, rng: random.Random, *, start_ms: int, end_ms: int, tenant_id: str
) -> dict[str, Any]:
    """Build the row at `index`; values come from `rng`, type variants from `index`."""
    start = rng.randrange(start_ms, end_ms)
    category, subcategory, tertiary = rng.choice(CATEGORIES)
    agent = rng.choice(AGENTS)
    agent_number = rng.randint(1, 99)
    customer = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    customer_number = rng.randint(1000, 9999)
    ticket_number = rng.randint(10_000, 99_999)
    groups = rng.sample(GROUPS, 2)
    tags = rng.sample(TAGS, 3)
    csat = rng.randint(1, 5)
    row: dict[str, Any] = {
        "ID": _uuid7(start, (rng.getrandbits(42) << 32) | id_tail),
        "TenantID": tenant_id,
        "Datetime": offset_text(start, variant(index // 2, *OFFSETS_MIN)),
        "DatetimeUTC": utc_text(start),
        "Duration": None if index % 9 == 4 else rng.randint(20, 3600),
        "Direction": variant(index, "inbound", "outbound", None),
        "Media": rng.choice(MEDIA),
        "AgentName": agent,
        "AgentId": variant(index // 3, f"agent-{agent_number}", agent_number, None),
        "AgentEmail": f"{ascii_handle(agent)}@support.example.com",
        "CustomerName": customer,
        "CustomerId": variant(index // 2, f"cust-{customer_number}", customer_number, None),
        "CustomerEmail": f"{ascii_handle(customer)}{rng.randint(1, 99)}@example.com",
        "Groups": variant(index // 5, groups[0], groups, [], None),
        "Tags": variant(index // 3, tags[0], tags, [], None),
        "Category": category,
        "Subcategory": subcategory,
        "Tertiary": tertiary,
        "CategoryExplanation": f"The customer mentioned {tertiary.lower()} ({subcategory}).",
        "CategoriesId": f"cat-{ascii_handle(category)}-{ascii_handle(subcategory)}",
        "Summary": SUMMARIES[index % len(SUMMARIES)].format(n=rng.randint(100_000, 999_999)),
        "CSat": variant(index // 2, csat, csat - 0.5 if csat > 1 else 1.5, None),
        "CSatExplanation": rng.choice(CSAT_REASONS),
        "Sentiment": variant(index // 4, rng.choice((-1, 0, 1)), (index % 7 - 3) / 4, None),
        "SentimentExplanation": rng.choice(SENTIMENT_REASONS),
        "Problems": variant(index // 3, rng.sample(PROBLEMS, 1 + index % 2), [], None),
        "KPIs": variant(index // 5, _kpis(rng), [], None),
        "SourceSystem": rng.choice(SOURCE_SYSTEMS),
        "TicketId": variant(index // 4, f"ZD-{ticket_number}", ticket_number, None),
        "TicketUrl": f"https://support.example.com/tickets/{ticket_number}",
    }
    for position, field in enumerate(NULLABLE_TEXT):
        if (index + position) % NULL_EVERY == 0:
            row[field] = None
    return row


def _kpis(rng: random.Random) -> list[dict[str, Any]]:
    """Return a conversation's KPI objects, with integer and float values."""
    return [
        {"kpi": "first_response_s", "value": rng.randint(5, 600) + 0.5},
        {"kpi": "handle_time_s", "value": rng.randint(30, 3600)},
    ]


def _uuid7(epoch_ms: int, random_bits: int) -> str:
    """Return a version 7 UUID: 48 bits of `epoch_ms`, then 74 bits taken from `random_bits`."""
    rand_a, rand_b = random_bits >> 62 & 0xFFF, random_bits & (1 << 62) - 1
    value = (epoch_ms & (1 << 48) - 1) << 80 | _VERSION_7 | rand_a << 64 | _VARIANT_RFC4122 | rand_b
    return str(uuid.UUID(int=value))
