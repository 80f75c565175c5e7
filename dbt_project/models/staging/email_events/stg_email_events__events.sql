{{ staging_config('email_event_id', 'email_events') }}

with

source as (

    select * from {{ source('email_events', 'email_events') }}
    {{- staging_filter('email_events') }}

),

renamed as (

    select
        nullif(trim(event_id), '') as email_event_id,
        nullif(trim(message_id), '') as message_id,
        nullif(lower(trim(event_type)), '') as event_type,
        occurred_at as event_at,
        {{ to_business_date('occurred_at') }} as event_date,
        nullif(trim(campaign_id), '') as campaign_id,
        nullif(trim(campaign_name), '') as campaign_name,
        {{ normalize_email('email') }} as email_normalized,
        nullif(trim(url), '') as clicked_url,
        nullif(lower(trim(bounce_type)), '') as bounce_type,
        nullif(trim(user_agent), '') as user_agent,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per event_id, the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['email_event_id']) }}

),

transformed as (

    select
        email_event_id,
        message_id,
        event_type,
        event_at,
        event_date,
        campaign_id,
        campaign_name,
        email_normalized,
        clicked_url,
        {{ get_url_parameter('clicked_url', 'utm_source') }} as utm_source,
        {{ get_url_parameter('clicked_url', 'utm_medium') }} as utm_medium,
        {{ get_url_parameter('clicked_url', 'utm_campaign') }} as utm_campaign,
        bounce_type,
        event_type = 'bounce' and bounce_type = 'hard' as is_hard_bounce,
        user_agent,
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
        'email_event_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'email_events'
    ) }}

)

select * from final
