{{
    config(
        materialized='incremental',
        unique_key='session_key',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['session_key'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['_changed_at']},
        ],
    )
}}
{#- Web and app events rolled up to sessions (GA4 session_id = device id + ga_session_id).
    Events without a ga_session_id belong to no session and are left out. A table of
    its own: the GA4 staging views are too costly to re-read and too poorly estimated
    to join against. Window functions in one pass, no self-joins, for the same reason.
    Incremental (issue 8): a night recomputes every session of the devices with events
    loaded since the watermark (max _loaded_at minus the lookback), from all of those
    devices' events, so a session continued across the night boundary, a late event and
    the device's first session and first-touch source come out as in a full run; merged
    on session_key (a session never changes device). -#}
with

web_events as not materialized (

    select * from {{ ref('stg_web_events__events') }}

),

app_events as not materialized (

    select * from {{ ref('stg_app_events__events') }}

),

-- the devices with events loaded tonight; in a full run every device
devices_touched as (

    select
        'web' as platform,
        cookie_id as device_id
    from web_events
    where session_id is not null
    {%- if is_incremental() %}
        and {{ loaded_since_last_run('_loaded_at') }}
    {%- endif %}

    union

    select
        'app' as platform,
        app_instance_id as device_id
    from app_events
    where session_id is not null
    {%- if is_incremental() %}
        and {{ loaded_since_last_run('_loaded_at') }}
    {%- endif %}

),

session_events as (

    -- page_utm_* is the campaign of the page the event happened on (the landing page
    -- carries it); device_utm_* is GA4's traffic_source: the first-touch source of
    -- the browser, or the install source of the app
    select
        'web' as platform,
        cookie_id as device_id,
        session_id,
        account_id,
        event_at,
        page_utm_source,
        page_utm_medium,
        page_utm_campaign,
        utm_source as device_utm_source,
        utm_medium as device_utm_medium,
        utm_campaign as device_utm_campaign,
        _loaded_at
    from web_events
    where session_id is not null
    {%- if is_incremental() %}
        and cookie_id in (select device_id from devices_touched where platform = 'web')
    {%- endif %}

    union all

    select
        'app' as platform,
        app_instance_id as device_id,
        session_id,
        account_id,
        event_at,
        null as page_utm_source,
        null as page_utm_medium,
        null as page_utm_campaign,
        utm_source as device_utm_source,
        utm_medium as device_utm_medium,
        utm_campaign as device_utm_campaign,
        _loaded_at
    from app_events
    where session_id is not null
    {%- if is_incremental() %}
        and app_instance_id in (select device_id from devices_touched where platform = 'app')
    {%- endif %}

),

session_events_flagged as (

    select
        *,
        case when account_id is not null then 0 else 1 end as login_order,
        case
            when coalesce(page_utm_source, page_utm_medium, page_utm_campaign) is not null then 0
            else 1
        end as page_campaign_order,
        case
            when coalesce(device_utm_source, device_utm_medium, device_utm_campaign) is not null then 0
            else 1
        end as device_source_order
    from session_events

),

-- per event: the session's last logged-in account (a shared device can switch),
-- the session's first tagged page (its landing campaign) and the device's first
-- reported traffic source; constant within a session, so max() keeps them below
session_events_enriched as (

    select
        platform,
        session_id,
        device_id,
        event_at,
        _loaded_at,
        first_value(account_id) over session_by_latest_login as session_account_id,
        first_value(page_utm_source) over session_by_first_campaign as landing_utm_source,
        first_value(page_utm_medium) over session_by_first_campaign as landing_utm_medium,
        first_value(page_utm_campaign) over session_by_first_campaign as landing_utm_campaign,
        first_value(device_utm_source) over device_by_first_source as device_utm_source,
        first_value(device_utm_medium) over device_by_first_source as device_utm_medium,
        first_value(device_utm_campaign) over device_by_first_source as device_utm_campaign
    from session_events_flagged
    window
        session_by_latest_login as (
            partition by platform, session_id
            order by login_order, event_at desc, account_id desc
        ),
        session_by_first_campaign as (
            partition by platform, session_id
            order by page_campaign_order, event_at
        ),
        device_by_first_source as (
            partition by platform, device_id
            order by device_source_order, event_at
        )

),

sessions_aggregated as (

    select
        platform,
        session_id,
        device_id,
        min(event_at) as session_started_at,
        max(event_at) as session_ended_at,
        count(*) as event_count,
        max(_loaded_at) as _loaded_at,
        max(session_account_id) as account_id,
        max(landing_utm_source) as landing_utm_source,
        max(landing_utm_medium) as landing_utm_medium,
        max(landing_utm_campaign) as landing_utm_campaign,
        max(device_utm_source) as device_utm_source,
        max(device_utm_medium) as device_utm_medium,
        max(device_utm_campaign) as device_utm_campaign
    from session_events_enriched
    group by platform, session_id, device_id

),

sessions_ranked as (

    select
        *,
        row_number() over (
            partition by platform, device_id
            order by session_started_at, session_id
        ) as device_session_rank
    from sessions_aggregated

),

final as (

    select
        platform || ':' || session_id as session_key,
        platform,
        session_id,
        device_id,
        account_id,
        session_started_at,
        {{ to_business_date('session_started_at') }} as session_date,
        session_ended_at,
        event_count,
        device_session_rank = 1 as is_first_device_session,
        -- an untagged landing is explained by the device's first-touch source only
        -- for the first session we hold of that device; later ones stay untagged
        case
            when coalesce(landing_utm_source, landing_utm_medium, landing_utm_campaign) is not null
                then landing_utm_source
            when device_session_rank = 1
                then device_utm_source
        end as utm_source,
        case
            when coalesce(landing_utm_source, landing_utm_medium, landing_utm_campaign) is not null
                then landing_utm_medium
            when device_session_rank = 1
                then device_utm_medium
        end as utm_medium,
        case
            when coalesce(landing_utm_source, landing_utm_medium, landing_utm_campaign) is not null
                then landing_utm_campaign
            when device_session_rank = 1
                then device_utm_campaign
        end as utm_campaign,
        _loaded_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from sessions_ranked

)

select * from final
