"""Daily paid-media performance per platform and campaign (CSV)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="ad_spend",
    description="Paid ads: one row per day, platform and campaign. Platforms restate recent days; the latest delivery of a (date, platform, campaign) wins.",
    file_format="csv",
    key=("spend_date", "platform", "campaign_id"),
    event_time_field="spend_date",
    may_be_empty=False,
    amount_fields=("spend_krw",),
    timezone_note="spend_date is the account's local (Asia/Seoul) reporting day.",
    fields=(
        Field("spend_date", "date", "Reporting day (account timezone Asia/Seoul).", required=True),
        Field("platform", "string", "Ad platform.", required=True, enum=("meta", "google", "naver", "kakao")),
        Field("campaign_id", "string", "Platform campaign id.", required=True),
        Field("campaign_name", "string", "Campaign name; carries the utm_campaign value used on landing URLs."),
        Field("spend_krw", "numeric", "Spend in KRW.", required=True, minimum=0, maximum=10_000_000_000),
        Field("impressions", "integer", "Impressions.", minimum=0, maximum=10_000_000_000),
        Field("clicks", "integer", "Clicks.", minimum=0, maximum=10_000_000_000),
        Field("conversions", "integer", "Platform-attributed conversions.", minimum=0, maximum=10_000_000_000),
        Field("conversion_value_krw", "numeric", "Platform-attributed revenue, KRW.", minimum=0, maximum=10_000_000_000),
    ),
    example={
        "spend_date": "2026-11-01", "platform": "naver", "campaign_id": "NV-778812", "campaign_name": "winter_sale",
        "spend_krw": "1250000", "impressions": "182340", "clicks": "2311", "conversions": "41", "conversion_value_krw": "6150000",
    },
)
