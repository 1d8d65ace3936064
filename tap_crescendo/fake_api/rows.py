"""Deterministic bot conversation rows, shaped and typed like the reporting API's."""

from __future__ import annotations

import functools
import random
import unicodedata
import uuid
from datetime import datetime, timezone
from typing import Any

FIRST_NAMES = ("Ana", "José", "Zoë", "Søren", "Mei", "Liam", "Aïsha", "Noah", "Priya", "Olú")
LAST_NAMES = ("García", "O'Brien", "Müller", "Nguyen", "Kowalski", "Smith", "Okafor", "Lindqvist")
AGENTS = ("Maya Chen", "Tomás Ruiz", "Grace Adeyemi", "Lukas Berg", "Chloé Martin")
BOTS = (
    ("bot-support", "Support Assistant"),
    ("bot-sales", "Sales Helper"),
    ("bot-billing", "Billing Bot"),
)
CATEGORIES = (
    ("Orders", "Delivery", "Late package"),
    ("Orders", "Returns", "Refund status"),
    ("Account", "Login", "Password reset"),
    ("Billing", "Invoices", "Wrong amount"),
    ("Product", "Availability", "Back in stock"),
)
MEDIA = ("chat", "email", "voice", "sms")
TICKET_KINDS = ("zendesk", "salesforce", "freshdesk")
HANDOFF_REASONS = (
    "Customer asked for a human",
    "Low confidence",
    "Billing dispute",
    "Loop detected",
)
NETWORKS = ("192.0.2", "198.51.100", "203.0.113")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
REFERRERS = (
    "https://shop.example.com/orders",
    "https://help.example.com/faq?topic=returns&lang=en",
    "https://www.example.org/",
)
INPUTS = (
    "Where is my order #{n}?",
    "Café order \u2013 naïve question ✓",
    'The courier said "tomorrow", again',
    "Can I change the address, please?",
    "注文番号 {n} が届きません",
    "Refund for order {n} 💸",
)
SUMMARIES = (
    "Customer asked about order {n}; the bot shared the tracking link.",
    'Customer quoted the error "payment declined", handed to billing.',
    "Café \u2013 naïve ✓ customer, resolved without an agent.",
    "Password reset done, customer confirmed.",
    "Kunde fragte nach der Rückerstattung für Bestellung {n}.",
)
# Each of these is null in every row whose index plus the field's position is a multiple of 11.
NULLABLE_TEXT = (
    "BotID",
    "BotName",
    "AgentName",
    "AgentEmail",
    "Category",
    "Subcategory",
    "Tertiary",
    "RemoteIp",
    "userAgent",
    "Referrer",
    "Summary",
    "ticketUrl",
    "ticketKind",
    "Input",
    "Contact Name",
    "Contact Email",
    "Contact Phone",
)
NULL_EVERY = 11


def generate_bot_rows(
    count: int, *, start_ms: int, end_ms: int, seed: int = 0, tenant_id: str = "tenant-alpha"
) -> list[dict[str, Any]]:
    """Return `count` bot conversations starting in [start_ms, end_ms), the same for the same seed.

    Type variants cycle on the row index with different periods, so any 50 or more rows hold
    every variant the API allows: `AgentId` and `ticketId` as string, integer or null; `Media`
    as string, list, empty list or null; `CSat` as integer, float or null; `Escalated` as true,
    false or null.
    """
    if count < 0 or end_ms <= start_ms:
        msg = f"need count >= 0 and start_ms < end_ms, got {count}, {start_ms}, {end_ms}"
        raise ValueError(msg)
    rng = random.Random(seed)
    id_mask = rng.getrandbits(32)
    return [
        _bot_row(index, index ^ id_mask, rng, start_ms=start_ms, end_ms=end_ms, tenant_id=tenant_id)
        for index in range(count)
    ]


def utc_text(epoch_ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with trailing fraction zeros trimmed, like Go."""
    seconds, millis = divmod(epoch_ms, 1000)
    whole = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{millis:03d}".rstrip("0").rstrip(".")
    return f"{whole}{fraction}Z"


def _bot_row(
    index: int, id_tail: int, rng: random.Random, *, start_ms: int, end_ms: int, tenant_id: str
) -> dict[str, Any]:
    """Build the row at `index`; values come from `rng`, type variants from `index`.

    The ID's last 32 bits are `id_tail`, distinct per index, so IDs never collide in one call.
    """
    start = rng.randrange(start_ms, end_ms)
    duration = rng.randint(5, 1800)
    end = start + duration * 1000 + rng.randrange(1000)
    escalated = variant(index, True, False, None)
    bot_id, bot_name = rng.choice(BOTS)
    category, subcategory, tertiary = rng.choice(CATEGORIES)
    agent = rng.choice(AGENTS)
    agent_number = rng.randint(1, 99)
    ticket_number = rng.randint(10_000, 99_999)
    order_number = rng.randint(100_000, 999_999)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    media = rng.choice(MEDIA)
    row: dict[str, Any] = {
        "ID": str(uuid.UUID(int=(rng.getrandbits(96) << 32) | id_tail, version=4)),
        "TenantID": tenant_id,
        "BotID": bot_id,
        "BotName": bot_name,
        "Datetime": start,
        "EndDatetime": end,
        "DatetimeUTC": utc_text(start),
        "EndDatetimeUTC": utc_text(end),
        "Duration": duration,
        "Escalated": escalated,
        "escalatedAt": start + rng.randrange(duration * 1000) if escalated else None,
        "CSat": variant(index // 2, rng.randint(1, 5), rng.randint(1, 4) + 0.5, None),
        "AgentName": agent,
        "AgentId": variant(index // 3, f"agent-{agent_number}", agent_number, None),
        "AgentEmail": f"{ascii_handle(agent)}@support.example.com",
        "Category": category,
        "Subcategory": subcategory,
        "Tertiary": tertiary,
        "RemoteIp": f"{rng.choice(NETWORKS)}.{rng.randint(1, 254)}",
        "userAgent": rng.choice(USER_AGENTS),
        "Referrer": rng.choice(REFERRERS),
        "Media": variant(index // 5, media, [media, "email"], [], None),
        "Summary": SUMMARIES[index % len(SUMMARIES)].format(n=order_number),
        "Handoff Reason": rng.choice(HANDOFF_REASONS) if escalated else None,
        "ticketId": variant(index // 4, f"ZD-{ticket_number}", ticket_number, None),
        "ticketUrl": f"https://support.example.com/tickets/{ticket_number}",
        "ticketKind": rng.choice(TICKET_KINDS),
        "Input": INPUTS[index % len(INPUTS)].format(n=order_number),
        "Contact Name": f"{first} {last}",
        "Contact Email": f"{ascii_handle(f'{first} {last}')}{rng.randint(1, 99)}@example.com",
        "Contact Phone": f"+1-555-01{rng.randint(0, 99):02d}",
    }
    for position, field in enumerate(NULLABLE_TEXT):
        if (index + position) % NULL_EVERY == 0:
            row[field] = None
    return row


def variant(index: int, *options: Any) -> Any:
    """Pick one of `options` by cycling on `index`."""
    return options[index % len(options)]


@functools.cache
def ascii_handle(name: str) -> str:
    """Turn a display name into a plausible lowercase email handle ("Zoë O'Brien" -> zoe.obrien)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join("".join(ch for ch in part if ch.isalnum()) for part in plain.lower().split())
