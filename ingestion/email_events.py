"""Email service provider event export (CSV)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="email_events",
    description="Email marketing events from the ESP: one row per message event (sent, delivered, open, click, bounce, unsubscribe, spam complaint).",
    file_format="csv",
    key=("event_id",),
    event_time_field="occurred_at",
    fields=(
        Field("event_id", "string", "ESP event id.", required=True),
        Field("message_id", "string", "ESP message id (one per recipient per campaign send).", required=True),
        Field("event_type", "string", "What happened to the message.", required=True,
              enum=("sent", "delivered", "open", "click", "bounce", "unsubscribe", "spam_complaint")),
        Field("occurred_at", "timestamp", "When the event happened.", required=True),
        Field("campaign_id", "string", "Campaign id.", required=True),
        Field("campaign_name", "string", "Campaign name (Korean or English)."),
        Field("email", "string", "Recipient address as the ESP holds it.", required=True, pii=True, identifier="email", max_length=320),
        Field("url", "string", "Clicked URL (click events), usually with UTM parameters.", max_length=8_192),
        Field("bounce_type", "string", "hard or soft (bounce events).", enum=("hard", "soft")),
        Field("user_agent", "string", "Client user agent (open and click events).", max_length=2_000),
    ),
    example={
        "event_id": "E0000000001", "message_id": "MSG000000001", "event_type": "open",
        "occurred_at": "2026-11-01T10:02:11+09:00", "campaign_id": "C2026_11_WINTER",
        "campaign_name": "겨울 시즌 세일", "email": "minji.kim@example.com", "url": "", "bounce_type": "",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
    },
)
