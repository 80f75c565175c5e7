{{ staging_config('response_id', 'survey_responses') }}

with

source as (

    select * from {{ source('survey_responses', 'survey_responses') }}
    {{- staging_filter('survey_responses') }}

),

renamed as (

    select
        nullif(trim(response_id), '') as response_id,
        nullif(lower(trim(survey_type)), '') as survey_type,
        cast(score as integer) as score,
        nullif(lower(trim(touchpoint)), '') as touchpoint,
        nullif(lower(trim(channel)), '') as channel,
        {{ normalize_account_id('account_id') }} as account_id,
        {{ normalize_email('email') }} as email_normalized,
        nullif(trim(reference_id), '') as reference_id,
        nullif(trim(comment), '') as comment,
        responded_at,
        {{ to_business_date('responded_at') }} as response_date,
        _load_id,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends: one row per response_id, the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['response_id']) }}

),

transformed as (

    select
        response_id,
        survey_type,
        score,
        case when survey_type = 'nps' then {{ nps_group('score') }} end as nps_category,
        touchpoint,
        channel,
        account_id,
        email_normalized,
        reference_id,
        case touchpoint
            when 'after_purchase' then 'order'
            when 'after_store_visit' then 'receipt'
            when 'after_support' then 'ticket'
        end as reference_type,
        comment,
        responded_at,
        response_date,
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
        'response_id',
        '_loaded_at desc, _load_id desc, _line_number desc',
        'survey_responses'
    ) }}

)

select * from final
