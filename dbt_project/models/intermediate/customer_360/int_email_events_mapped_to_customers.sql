{{
    config(
        materialized='incremental',
        unique_key='email_event_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['email_event_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['_changed_at']},
            {'columns': ['customer_id']},
            {'columns': ['message_id']},
        ],
    )
}}
{#- Incremental (issue 8): a night re-maps only the records loaded since the watermark
    (max _loaded_at minus the lookback) and those with an identifier the resolver mapped
    or moved to another customer since the last run; merged on email_event_id. -#}
{%- set email_event_identifiers = {
    'email': 'email_events.email_normalized',
} -%}

with

email_events as not materialized (

    select * from {{ ref('stg_email_events__events') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

email_events_mapped as (

    select
        email_events.email_event_id,
        {{ customer_id_by_precedence(email_event_identifiers) }} as customer_id,
        {{ matched_identifier_type(email_event_identifiers) }} as matched_identifier_type,
        email_events.message_id,
        email_events.campaign_id,
        email_events.event_type,
        email_events.event_at,
        email_events.event_date,
        email_events.utm_source,
        email_events.utm_medium,
        email_events.utm_campaign,
        email_events.email_normalized,
        email_events._loaded_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from email_events
    {{ join_identifier_map(email_event_identifiers) }}
    {{ changed_records_filter('email_events', 'email_event_id', email_event_identifiers) }}

),

final as (

    select * from email_events_mapped

)

select * from final
