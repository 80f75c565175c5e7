{{ staging_config('review_id', 'product_reviews') }}

with

source as (

    select * from {{ source('product_reviews', 'product_reviews') }}
    {{- staging_filter('product_reviews') }}

),

renamed as (

    select
        nullif(trim(review_id), '') as review_id,
        nullif(upper(trim(product_id)), '') as product_id,
        cast(rating as integer) as rating,
        nullif(trim(title), '') as review_title,
        nullif(trim(body), '') as review_body,
        coalesce(is_verified_purchase, false) as is_verified_purchase,
        nullif(lower(trim(channel)), '') as channel,
        {{ normalize_account_id('account_id') }} as account_id,
        {{ normalize_email('reviewer_email') }} as email_normalized,
        nullif(trim(reviewer_nickname), '') as reviewer_nickname,
        nullif(trim(order_id), '') as order_id,
        created_at as reviewed_at,
        {{ to_business_date('created_at') }} as review_date,
        nullif(lower(trim(language)), '') as language,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per review_id, the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['review_id']) }}

),

transformed as (

    select
        review_id,
        product_id,
        rating,
        review_title,
        review_body,
        is_verified_purchase,
        channel,
        account_id,
        email_normalized,
        reviewer_nickname,
        order_id,
        reviewed_at,
        review_date,
        language,
        _load_id,
        _loaded_at,
        _line_number

    from deduplicated

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'review_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'product_reviews'
    ) }}

)

select * from final
