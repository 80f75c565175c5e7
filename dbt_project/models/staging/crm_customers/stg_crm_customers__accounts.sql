{{ staging_config('account_id', 'crm_customers') }}

with

source as (

    select * from {{ source('crm_customers', 'crm_customers') }}
    {{- staging_filter('crm_customers') }}

),

renamed as (

    select
        {{ normalize_account_id('account_id') }} as account_id,
        {{ normalize_email('email') }} as email_normalized,
        {{ normalize_phone_e164('phone') }} as phone_e164,
        nullif(trim(name), '') as name,
        cast(birth_year as integer) as birth_year,
        nullif(upper(trim(gender)), '') as gender,
        nullif(trim(city), '') as city,
        nullif(lower(trim(signup_channel)), '') as signup_channel,
        signup_at,
        {{ to_business_date('signup_at') }} as signup_date,
        coalesce(consent_email, false) as has_email_consent,
        coalesce(consent_sms, false) as has_sms_consent,
        coalesce(consent_push, false) as has_push_consent,
        {{ normalize_loyalty_member_id('loyalty_member_id') }} as loyalty_member_id,
        {{ normalize_social_handle_combined('social_handle') }} as social_handle_normalized,
        updated_at,
        _load_id,
        _logical_date,
        _loaded_at,
        _line_number

    from source

),

-- exact re-sends of one (account_id, updated_at) version: keep the last loaded copy
deduplicated as (

    {{ deduplicate('renamed', ['account_id', 'updated_at']) }}

),

-- one row per account: its latest version
latest_version as (

    {{ deduplicate(
        'deduplicated',
        ['account_id'],
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc'
    ) }}

),

transformed as (

    select
        account_id,
        email_normalized,
        phone_e164,
        name,
        birth_year,
        gender,
        city,
        signup_channel,
        signup_at,
        signup_date,
        has_email_consent,
        has_sms_consent,
        has_push_consent,
        loyalty_member_id is not null as is_loyalty_member,
        loyalty_member_id,
        social_handle_normalized,
        updated_at,
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
        'account_id',
        'updated_at desc, _loaded_at desc, _load_id desc, _line_number desc',
        'crm_customers'
    ) }}

)

select * from final
