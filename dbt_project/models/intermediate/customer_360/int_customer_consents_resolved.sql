{{ customer_grain_config() }}
{#- Marketing consent of the customer's most recently updated CRM account (CRM is the
    consent system of record). An ESP unsubscribe or spam complaint newer than that
    CRM version withdraws email consent: the ESP sees the opt-out before the CRM sync,
    and sending after an opt-out is not allowed. -#}
with

accounts as (

    select * from {{ ref('int_crm_accounts_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

email_events as (

    select * from {{ ref('int_email_events_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

accounts_ranked as (

    select
        customer_id,
        has_email_consent,
        has_sms_consent,
        has_push_consent,
        updated_at,
        row_number() over (
            partition by customer_id
            order by updated_at desc, account_id desc
        ) as recency_rank
    from accounts
    where customer_id is not null

),

latest_accounts as (

    select
        customer_id,
        has_email_consent,
        has_sms_consent,
        has_push_consent,
        updated_at
    from accounts_ranked
    where recency_rank = 1

),

email_opt_outs as (

    select
        customer_id,
        max(event_at) as opted_out_at
    from email_events
    where customer_id is not null
        and event_type in ('unsubscribe', 'spam_complaint')
    group by customer_id

),

consent_sources as (

    select customer_id from latest_accounts
    union
    select customer_id from email_opt_outs

),

consents_joined as (

    select
        consent_sources.customer_id,
        latest_accounts.has_email_consent as crm_email_consent,
        latest_accounts.has_sms_consent as crm_sms_consent,
        latest_accounts.has_push_consent as crm_push_consent,
        latest_accounts.updated_at as crm_updated_at,
        email_opt_outs.opted_out_at,
        email_opt_outs.opted_out_at is not null
            and (
                latest_accounts.updated_at is null
                or email_opt_outs.opted_out_at > latest_accounts.updated_at
            ) as is_opt_out_newer_than_crm
    from consent_sources
    left join latest_accounts
        on consent_sources.customer_id = latest_accounts.customer_id
    left join email_opt_outs
        on consent_sources.customer_id = email_opt_outs.customer_id

),

final as (

    select
        customer_id,
        -- no CRM account: no consent on record
        case
            when is_opt_out_newer_than_crm then false
            else coalesce(crm_email_consent, false)
        end as has_email_consent,
        coalesce(crm_sms_consent, false) as has_sms_consent,
        coalesce(crm_push_consent, false) as has_push_consent,
        case
            when is_opt_out_newer_than_crm then opted_out_at
            else crm_updated_at
        end as consent_updated_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from consents_joined

)

select * from final
