{{
    config(
        materialized='incremental',
        unique_key='mention_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['mention_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['_changed_at']},
            {'columns': ['customer_id']},
        ],
    )
}}
{#- Incremental (issue 8): a night re-maps only the records loaded since the watermark
    (max _loaded_at minus the lookback) and those with an identifier the resolver mapped
    or moved to another customer since the last run; merged on mention_id. -#}
{#- Customer-authored mentions only: the brand's own posts are not customer activity. -#}
{%- set mention_identifiers = {
    'social_handle': 'customer_mentions.social_handle_normalized',
} -%}

with

mentions as not materialized (

    select * from {{ ref('stg_social_mentions__mentions') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

customer_mentions as not materialized (

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
        customer_mentions.engagement_count,
        customer_mentions._loaded_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customer_mentions
    {{ join_identifier_map(mention_identifiers) }}
    {{ changed_records_filter('customer_mentions', 'mention_id', mention_identifiers) }}

),

final as (

    select * from mentions_mapped

)

select * from final
