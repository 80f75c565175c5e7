"""Loyalty program ledger (JSONL): enrolments, points and tier changes across store, web and app."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="loyalty_events",
    description="Loyalty ledger: one row per enrolment, points earn/redeem/expire, or tier change, on any channel.",
    file_format="jsonl",
    key=("event_id",),
    event_time_field="occurred_at",
    fields=(
        Field("event_id", "string", "Ledger entry id.", required=True),
        Field("member_id", "string", "Loyalty member id (CRM loyalty_member_id).", required=True, identifier="loyalty_member_id"),
        Field("card_number", "string", "Physical/virtual card number of the member (16 digits).", pii=True, identifier="loyalty_card"),
        Field("event_type", "string", "Ledger entry type.", required=True, enum=("enroll", "earn", "redeem", "expire", "tier_change")),
        Field("points", "integer", "Points delta (positive earn, negative redeem/expire, 0 otherwise).", required=True, minimum=-10_000_000, maximum=10_000_000),
        Field("tier_before", "string", "Tier before a tier_change.", enum=("basic", "silver", "gold", "vip")),
        Field("tier_after", "string", "Tier after a tier_change or enroll.", enum=("basic", "silver", "gold", "vip")),
        Field("channel", "string", "Where the entry originated.", required=True, enum=("store", "web", "app", "social_share", "system")),
        Field("reference_type", "string", "What the entry refers to.", enum=("order", "receipt", "review", "social_post", "none")),
        Field("reference_id", "string", "Order id, receipt id, review id or post id."),
        Field("occurred_at", "timestamp", "When the entry was booked.", required=True),
    ),
    example={
        "event_id": "L0000000099", "member_id": "M00001234", "card_number": "9410123412341234",
        "event_type": "earn", "points": 1890, "tier_before": None, "tier_after": None, "channel": "store",
        "reference_type": "receipt", "reference_id": "R-S012-20261101-0042", "occurred_at": "2026-11-01T14:23:06+09:00",
    },
)
