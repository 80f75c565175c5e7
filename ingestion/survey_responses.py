"""Survey tool export (CSV): NPS, CSAT and CES responses."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="survey_responses",
    description="Survey responses: one row per answered survey (NPS 0-10, CSAT 1-5 or CES 1-7), with the touchpoint that triggered it.",
    file_format="csv",
    key=("response_id",),
    event_time_field="responded_at",
    watched_fields=("account_id", "email"),
    fields=(
        Field("response_id", "string", "Survey tool response id.", required=True),
        Field("survey_type", "string", "Which score was asked.", required=True, enum=("nps", "csat", "ces")),
        Field("score", "integer", "Score: NPS 0-10, CSAT 1-5, CES 1-7.", required=True, minimum=0, maximum=10),
        Field("touchpoint", "string", "What triggered the survey.", required=True,
              enum=("after_purchase", "after_support", "after_store_visit", "periodic", "in_app")),
        Field("channel", "string", "Where it was answered.", enum=("email", "sms", "app", "web", "kiosk")),
        Field("account_id", "string", "CRM account id when known.", identifier="account_id"),
        Field("email", "string", "Respondent email when known.", pii=True, identifier="email", max_length=320),
        Field("reference_id", "string", "Order, receipt or ticket the survey was about."),
        Field("comment", "string", "Free-text answer.", pii=True, max_length=5_000),
        Field("responded_at", "timestamp", "When the response was submitted.", required=True),
    ),
    example={
        "response_id": "SR000000123", "survey_type": "nps", "score": "9", "touchpoint": "after_purchase",
        "channel": "email", "account_id": "A00001234", "email": "minji.kim@example.com", "reference_id": "O000012345",
        "comment": "배송이 빨라서 좋았어요", "responded_at": "2026-11-03T19:20:00+09:00",
    },
)
