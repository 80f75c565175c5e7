{{ staging_config('ticket_id', 'support_tickets') }}

with

source as (

    select * from {{ source('support_tickets', 'support_tickets') }}
    {{- staging_filter('support_tickets') }}

),

renamed as (

    select
        ticket_id,
        nullif(lower(trim(via_channel)), '') as via_channel,
        {{ normalize_email('requester_email') }} as email_normalized,
        {{ normalize_phone_e164('requester_phone') }} as phone_e164,
        nullif(trim(subject), '') as subject,
        nullif(trim(description), '') as description,
        case when jsonb_typeof(tags) = 'array' then tags else '[]'::jsonb end as tags_json,
        nullif(lower(trim(priority)), '') as priority,
        nullif(lower(trim(status)), '') as status,
        created_at,
        {{ to_business_date('created_at') }} as created_date,
        updated_at,
        first_reply_at,
        solved_at,
        coalesce(is_escalated, false) as is_escalated,
        nullif(lower(trim(satisfaction_rating)), '') as satisfaction_rating,
        nullif(trim(satisfaction_comment), '') as satisfaction_comment,
        nullif(upper(trim(assignee_id)), '') as assignee_id,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends of one (ticket_id, updated_at) version: keep the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['ticket_id', 'updated_at']) }}

),

-- one row per ticket: its latest version
latest_version as (

    {{ deduplicate(
        'deduplicated',
        ['ticket_id'],
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

transformed as (

    select
        ticket_id,
        via_channel,
        email_normalized,
        phone_e164,
        subject,
        description,
        array(
            select lower(trim(tag))
            from jsonb_array_elements_text(tags_json) as tag
            where nullif(trim(tag), '') is not null
        ) as tags,
        priority,
        status,
        status in ('solved', 'closed') as is_solved,
        created_at,
        created_date,
        updated_at,
        first_reply_at,
        solved_at,
        cast({{ dbt.datediff('created_at', 'first_reply_at', 'minute') }} as {{ dbt.type_bigint() }}) as first_reply_minutes,
        cast({{ dbt.datediff('created_at', 'solved_at', 'minute') }} as {{ dbt.type_bigint() }}) as resolution_minutes,
        is_escalated,
        satisfaction_rating,
        satisfaction_comment,
        assignee_id,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from latest_version

),

-- incremental: the night's rows and the existing rows of the keys they touch,
-- the first in the model's version order wins (macros/staging/staging_incremental.sql)
final as (

    {{ staging_keep_latest(
        'transformed',
        'ticket_id',
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc',
        'support_tickets'
    ) }}

)

select * from final
