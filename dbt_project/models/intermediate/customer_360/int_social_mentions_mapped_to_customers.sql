{#- Customer-authored mentions only: the brand's own posts are not customer activity. -#}
{%- set mention_identifiers = {
    'social_handle': 'customer_mentions.social_handle_normalized',
} -%}

with

mentions as (

    select * from {{ ref('stg_social_mentions__mentions') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

customer_mentions as (

    select * from mentions
    where not is_brand_post

),

mentions_mapped as (

    select
        customer_mentions.mention_id,
        {{ customer_id_by_precedence(mention_identifiers) }} as customer_id,
        {{ matched_identifier_type(mention_identifiers) }} as matched_identifier_type,
        customer_mentions.platform,
        customer_mentions.posted_at,
        customer_mentions.posted_date,
        customer_mentions.engagement_count
    from customer_mentions
    {{ join_identifier_map(mention_identifiers) }}

),

final as (

    select * from mentions_mapped

)

select * from final
