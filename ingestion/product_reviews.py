"""Product reviews from the web shop, app and marketplaces (JSONL)."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="product_reviews",
    description="Product reviews: one row per review.",
    file_format="jsonl",
    key=("review_id",),
    event_time_field="created_at",
    watched_fields=("account_id", "reviewer_email"),
    fields=(
        Field("review_id", "string", "Review id.", required=True),
        Field("product_id", "string", "Product (SKU) reviewed.", required=True),
        Field("rating", "integer", "Star rating.", required=True, minimum=1, maximum=5),
        Field("title", "string", "Review title.", pii=True, max_length=1_000),
        Field("body", "string", "Review text (Korean or English).", pii=True, max_length=20_000),
        Field("is_verified_purchase", "boolean", "Reviewer bought the product."),
        Field("channel", "string", "Where the review was written.", required=True, enum=("web", "app", "naver_shopping", "store_kiosk")),
        Field("account_id", "string", "CRM account id when logged in.", identifier="account_id"),
        Field("reviewer_email", "string", "Reviewer email when known.", pii=True, identifier="email", max_length=320),
        Field("reviewer_nickname", "string", "Public nickname.", pii=True, max_length=200),
        Field("order_id", "string", "Order the review is about, when verified."),
        Field("created_at", "timestamp", "When the review was posted.", required=True),
        Field("language", "string", "Language.", enum=("ko", "en")),
    ),
    example={
        "review_id": "RV00000042", "product_id": "P0012", "rating": 5, "title": "따뜻해요",
        "body": "겨울에 딱 좋은 코트입니다.", "is_verified_purchase": True, "channel": "app", "account_id": "A00001234",
        "reviewer_email": None, "reviewer_nickname": "민지", "order_id": "O000012345",
        "created_at": "2026-11-01T12:00:00+09:00", "language": "ko",
    },
)
