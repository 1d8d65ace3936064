"""The streams of the tap: one small class per reporting export."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_crescendo.sync.export import IncrementalExport


def _text(name: str, **kwargs: t.Any) -> th.Property[t.Any]:
    """A nullable string field."""
    return th.Property(name, th.StringType, nullable=True, **kwargs)


def _millis(name: str, description: str, **kwargs: t.Any) -> th.Property[t.Any]:
    """A nullable epoch-milliseconds field."""
    return th.Property(name, th.IntegerType, nullable=True, description=description, **kwargs)


def _text_list(name: str) -> th.Property[t.Any]:
    """A nullable list of strings; a single string arrives as a one-item list."""
    return th.Property(
        name,
        th.ArrayType(th.StringType),
        nullable=True,
        description="A single string arrives as a one-item list.",
    )


def _number(name: str, description: str) -> th.Property[t.Any]:
    """A nullable number."""
    return th.Property(name, th.NumberType, nullable=True, description=description)


def _objects(name: str) -> th.Property[t.Any]:
    """A nullable list of free-form objects."""
    return th.Property(name, th.ArrayType(th.ObjectType(additional_properties=True)), nullable=True)


class BotConversationsStream(IncrementalExport):
    """Bot conversations as reporting rows (no message content)."""

    name = "bot_conversations"
    export_paths = ("botconv", "assistant/conversations")
    replication_key = "DatetimeUTC"
    start_ms_field = "Datetime"
    documented_unions: t.ClassVar = {"AgentId": "integer", "ticketId": "integer", "Media": "string"}
    schema = th.PropertiesList(
        _text("ID", required=True, description="Conversation id."),
        _text("TenantID", required=True),
        _text("BotID", required=True),
        _text("BotName", required=True),
        _millis("Datetime", "Conversation start, epoch milliseconds.", required=True),
        _millis("EndDatetime", "Conversation end, epoch milliseconds.", required=True),
        th.Property(
            "DatetimeUTC",
            th.DateTimeType,
            nullable=True,
            required=True,
            description="Conversation start (the replication key).",
        ),
        th.Property(
            "EndDatetimeUTC",
            th.DateTimeType,
            nullable=True,
            required=True,
            description="Conversation end.",
        ),
        th.Property("Duration", th.IntegerType, required=True, description="Seconds."),
        th.Property("Escalated", th.BooleanType, nullable=True),
        _millis("escalatedAt", "Escalation time, epoch milliseconds."),
        th.Property(
            "CSat",
            th.NumberType,
            nullable=True,
            description="Customer satisfaction; integers arrive as floats (4 -> 4.0).",
        ),
        _text("AgentName"),
        _text(
            "AgentId",
            description="Agent id; integer ids arrive as strings (17 -> '17').",
        ),
        _text("AgentEmail"),
        _text("Category"),
        _text("Subcategory"),
        _text("Tertiary"),
        _text("RemoteIp"),
        _text("userAgent"),
        _text("Referrer"),
        th.Property(
            "Media",
            th.ArrayType(th.StringType),
            nullable=True,
            description="Channels; a single string arrives as a one-item list.",
        ),
        _text("Summary"),
        _text("Handoff Reason"),
        _text("ticketId", description="Ticket id; integer ids arrive as strings."),
        _text("ticketUrl"),
        _text("ticketKind"),
        _text("Input"),
        _text("Contact Name"),
        _text("Contact Email"),
        _text("Contact Phone"),
    ).to_dict()


class VocConversationsStream(IncrementalExport):
    """Voice-of-customer conversations: categories, sentiment, CSat, problems, KPIs."""

    name = "voc_conversations"
    export_paths = ("vocconv", "voc/conversations")
    replication_key = "Datetime"
    documented_unions: t.ClassVar = {
        "AgentId": "integer",
        "CustomerId": "integer",
        "TicketId": "integer",
        "Groups": "string",
        "Tags": "string",
    }
    schema = th.PropertiesList(
        _text("ID", description="Conversation id."),
        _text("TenantID"),
        th.Property(
            "Datetime",
            th.DateTimeType,
            nullable=True,
            description="Conversation start, ISO 8601 (the replication key).",
        ),
        th.Property("DatetimeUTC", th.DateTimeType, nullable=True),
        th.Property("Duration", th.IntegerType, nullable=True, description="Seconds."),
        _text("Direction"),
        _text("Media"),
        _text("AgentName"),
        _text("AgentId", description="Agent id; integer ids arrive as strings."),
        _text("AgentEmail"),
        _text("CustomerName"),
        _text("CustomerId", description="Customer id; integer ids arrive as strings."),
        _text("CustomerEmail"),
        _text_list("Groups"),
        _text_list("Tags"),
        _text("Category"),
        _text("Subcategory"),
        _text("Tertiary"),
        _text("CategoryExplanation"),
        _text("CategoriesId"),
        _text("Summary"),
        _number("CSat", "Customer satisfaction; integers arrive as floats."),
        _text("CSatExplanation"),
        _number("Sentiment", "Sentiment score; integers arrive as floats."),
        _text("SentimentExplanation"),
        _objects("Problems"),
        _objects("KPIs"),
        _text("SourceSystem"),
        _text("TicketId", description="Ticket id; integer ids arrive as strings."),
        _text("TicketUrl"),
    ).to_dict()
