{%- set review_identifiers = {
    'account_id': 'reviews.account_id',
    'email': 'reviews.email_normalized',
} -%}

with

reviews as (

    select * from {{ ref('stg_product_reviews__reviews') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

reviews_mapped as (

    select
        reviews.review_id,
        {{ customer_id_by_precedence(review_identifiers) }} as customer_id,
        {{ matched_identifier_type(review_identifiers) }} as matched_identifier_type,
        reviews.product_id,
        reviews.rating,
        reviews.channel,
        reviews.reviewed_at,
        reviews.review_date,
        reviews.email_normalized
    from reviews
    {{ join_identifier_map(review_identifiers) }}

),

final as (

    select * from reviews_mapped

)

select * from final
