"""Help-desk tickets in a Zendesk-like shape (JSONL)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="support_tickets",
    description="Customer service tickets (Zendesk-like): one row per ticket version; a ticket is re-delivered each time it changes, the latest updated_at wins.",
    file_format="jsonl",
    key=("ticket_id", "updated_at"),
    version_field="updated_at",
    event_time_field="created_at",
    fields=(
        Field("ticket_id", "integer", "Ticket id.", required=True, minimum=1, maximum=10_000_000_000),
        Field("via_channel", "string", "Channel the ticket came in through.", required=True,
              enum=("phone", "chat", "email", "web", "social", "chatbot")),
        Field("requester_email", "string", "Requester email.", pii=True),
        Field("requester_phone", "string", "Requester phone, any KR format.", pii=True),
        Field("subject", "string", "Ticket subject.", pii=True),
        Field("description", "string", "First message of the ticket.", pii=True),
        Field("tags", "json", "Array of tags (e.g. [\"delivery\", \"refund\"])."),
        Field("priority", "string", "Priority.", enum=("low", "normal", "high", "urgent")),
        Field("status", "string", "Status.", required=True, enum=("new", "open", "pending", "hold", "solved", "closed")),
        Field("created_at", "timestamp", "When the ticket was opened.", required=True),
        Field("updated_at", "timestamp", "When this version was written.", required=True),
        Field("first_reply_at", "timestamp", "First public agent reply."),
        Field("solved_at", "timestamp", "When the ticket was solved."),
        Field("is_escalated", "boolean", "Escalated to tier 2 or a supervisor."),
        Field("satisfaction_rating", "string", "CSAT on the ticket.", enum=("unoffered", "offered", "good", "bad")),
        Field("satisfaction_comment", "string", "CSAT comment.", pii=True),
        Field("assignee_id", "string", "Agent id."),
    ),
    example={
        "ticket_id": 100234, "via_channel": "chat", "requester_email": "minji.kim@example.com", "requester_phone": None,
        "subject": "배송 지연 문의", "description": "주문한 코트가 아직 안 왔어요.", "tags": ["delivery", "delay"],
        "priority": "normal", "status": "solved", "created_at": "2026-11-01T10:12:00+09:00",
        "updated_at": "2026-11-01T11:40:00+09:00", "first_reply_at": "2026-11-01T10:15:30+09:00",
        "solved_at": "2026-11-01T11:40:00+09:00", "is_escalated": False, "satisfaction_rating": "good",
        "satisfaction_comment": "빠른 답변 감사합니다", "assignee_id": "AG017",
    },
)
