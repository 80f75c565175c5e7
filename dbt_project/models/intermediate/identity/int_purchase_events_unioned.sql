{{
    config(
        materialized='incremental',
        unique_key=['source', 'event_id'],
        incremental_strategy='merge',
        on_schema_change='fail',
        tags=['identity_input'],
        indexes=[
            {'columns': ['source', 'event_id'], 'unique': True},
            {'columns': ['transaction_id']},
            {'columns': ['_loaded_at']},
        ],
    )
}}
{#- The web and app purchase events that name an order (transaction_id), narrow and
    indexed on transaction_id, so that the identity edges can join a late order to its
    earlier purchase events by index instead of reading the event streams.
    Incremental (issue 8): a night reads only the staging events loaded since the
    watermark (max _loaded_at minus the lookback) and merges them on (source, event_id);
    a re-read event is updated in place. -#}

with

web_events as (

    select * from {{ ref('stg_web_events__events') }}
    {{ incremental_filter() }}

),

app_events as (

    select * from {{ ref('stg_app_events__events') }}
    {{ incremental_filter() }}

),

web_purchase_events as (

    select
        'web_events'::text as source,
        web_event_id::text as event_id,
        transaction_id,
        'cookie_id'::text as device_id_type,
        cookie_id as device_id,
        event_at,
        _load_id::text as _load_id,
        _loaded_at
    from web_events
    where event_name = 'purchase'
        and transaction_id is not null
        and cookie_id is not null

),

app_purchase_events as (

    select
        'app_events'::text as source,
        app_event_id::text as event_id,
        transaction_id,
        'app_instance_id'::text as device_id_type,
        app_instance_id as device_id,
        event_at,
        _load_id::text as _load_id,
        _loaded_at
    from app_events
    where event_name = 'purchase'
        and transaction_id is not null
        and app_instance_id is not null

),

final as (

    select * from web_purchase_events
    union all
    select * from app_purchase_events

)

select * from final
