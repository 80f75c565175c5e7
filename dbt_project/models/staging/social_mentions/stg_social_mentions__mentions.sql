{{ staging_config('mention_id', 'social_mentions') }}

with

source as (

    select * from {{ source('social_mentions', 'social_mentions') }}
    {{- staging_filter('social_mentions') }}

),

renamed as (

    select
        nullif(trim(mention_id), '') as mention_id,
        nullif(lower(trim(platform)), '') as platform,
        {{ normalize_social_handle('platform', 'handle') }} as social_handle_normalized,
        nullif(trim(author_name), '') as author_name,
        nullif(trim("text"), '') as mention_text,
        posted_at,
        {{ to_business_date('posted_at') }} as posted_date,
        collected_at,
        likes as like_count,
        shares as share_count,
        comments as comment_count,
        is_brand_post,
        nullif(trim(post_url), '') as post_url,
        nullif(lower(trim(language)), '') as language,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends of one (mention_id, collected_at) version: keep the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['mention_id', 'collected_at']) }}

),

-- one row per mention: the latest collection (current engagement counts)
latest_version as (

    {{ deduplicate(
        'deduplicated',
        ['mention_id'],
        'collected_at desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

transformed as (

    select
        mention_id,
        platform,
        social_handle_normalized,
        author_name,
        mention_text,
        posted_at,
        posted_date,
        collected_at,
        like_count,
        share_count,
        comment_count,
        coalesce(like_count, 0) + coalesce(share_count, 0) + coalesce(comment_count, 0) as engagement_count,
        is_brand_post,
        post_url,
        language,
        _load_id,
        _loaded_at,
        _line_number

    from latest_version

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'mention_id',
        'collected_at desc, _loaded_at desc, _load_id desc, _line_number desc',
        'social_mentions'
    ) }}

)

select * from final
