"""Social listening export (JSONL): brand posts and customer mentions."""
from ingestion.contract import Contract, Field

CONTRACT = Contract(
    source="social_mentions",
    description="Social media posts about or by the brand: one row per post or mention, with engagement counts as of delivery.",
    file_format="jsonl",
    key=("mention_id", "collected_at"),
    version_field="collected_at",
    event_time_field="posted_at",
    fields=(
        Field("mention_id", "string", "Listening tool's post id.", required=True),
        Field("platform", "string", "Social platform.", required=True, enum=("instagram", "facebook", "x", "youtube", "naver_blog")),
        Field("handle", "string", "Author handle, @name.", required=True, pii=True, identifier="social_handle", identifier_sql="normalize_social_handle('platform', 'handle')"),
        Field("author_name", "string", "Author display name.", pii=True, max_length=200),
        Field("text", "string", "Post text (Korean or English).", pii=True, max_length=20_000),
        Field("posted_at", "timestamp", "When the post was published.", required=True),
        Field("collected_at", "timestamp", "When the listening tool collected these counts.", required=True),
        Field("likes", "integer", "Likes at collection.", minimum=0, maximum=100_000_000),
        Field("shares", "integer", "Shares/retweets at collection.", minimum=0, maximum=100_000_000),
        Field("comments", "integer", "Comments at collection.", minimum=0, maximum=100_000_000),
        Field("is_brand_post", "boolean", "True for the brand's own posts, false for customer mentions.", required=True),
        Field("post_url", "string", "Link to the post.", max_length=8_192),
        Field("language", "string", "Detected language (ko, en).", enum=("ko", "en")),
    ),
    example={
        "mention_id": "SM0000000001", "platform": "instagram", "handle": "@minji_k", "author_name": "Minji",
        "text": "새로 산 코트 너무 따뜻해요! #겨울세일", "posted_at": "2026-11-01T20:11:00+09:00",
        "collected_at": "2026-11-02T01:00:00+09:00", "likes": 42, "shares": 1, "comments": 3,
        "is_brand_post": False, "post_url": "https://instagram.com/p/abc123", "language": "ko",
    },
)
