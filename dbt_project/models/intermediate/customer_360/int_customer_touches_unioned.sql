{{
    config(
        materialized='incremental',
        unique_key='touch_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['touch_id'], 'unique': True},
            {'columns': ['_changed_at']},
            {'columns': ['customer_id']},
            {'columns': ['touch_date']},
        ],
    )
}}
{#- Every interaction a person had with the brand, one row per touch, from all channels
    (records not mapped to a customer are kept with a null customer_id: the as-of date
    fallback reads the whole dataset). Loyalty ledger entries are not touches: they
    restate purchases, reviews and posts that are touches already.
    Incremental (issue 8): a night rewrites the touches of the mapped records rewritten
    since the last run (their _changed_at above this model's) and re-aggregates the email
    messages with such an event from all of the message's events; merged on touch_id. -#}
with

accounts as (

    select * from {{ ref('int_crm_accounts_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

sessions as (

    select * from {{ ref('int_sessions_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

orders as (

    select * from {{ ref('int_orders_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

receipts as (

    select * from {{ ref('int_receipts_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

email_events as not materialized (

    select * from {{ ref('int_email_events_mapped_to_customers') }}

),

-- the messages with an engagement rewritten since the last run (incremental runs only)
email_messages_changed as (

    select distinct message_id
    from email_events
    where event_type in ('open', 'click')
    {%- if is_incremental() %}
        and _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

tickets as (

    select * from {{ ref('int_support_tickets_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

responses as (

    select * from {{ ref('int_survey_responses_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

reviews as (

    select * from {{ ref('int_product_reviews_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

mentions as (

    select * from {{ ref('int_social_mentions_mapped_to_customers') }}
    {%- if is_incremental() %}
    where _changed_at > {{ incremental_watermark('_changed_at') }}
    {%- endif %}

),

-- an email touch is a message the person opened or clicked (sends are the brand's
-- action, not the customer's); one touch per message, at its first engagement
email_messages_engaged as (

    select
        message_id,
        min(customer_id) as customer_id,
        min(event_at) as touched_at,
        max(case when event_type = 'click' then utm_source end) as utm_source,
        max(case when event_type = 'click' then utm_medium end) as utm_medium,
        max(case when event_type = 'click' then utm_campaign end) as utm_campaign
    from email_events
    where event_type in ('open', 'click')
    {%- if is_incremental() %}
        and message_id in (select message_id from email_messages_changed)
    {%- endif %}
    group by message_id

),

touches_unioned as (

    select
        'crm_signup:' || account_id as touch_id,
        customer_id,
        'crm_customers' as touch_source,
        case signup_channel
            when 'call_center' then 'support'
            else signup_channel
        end as channel,
        signup_at as touched_at,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign
    from accounts

    union all

    select
        'session:' || session_key as touch_id,
        customer_id,
        platform || '_events' as touch_source,
        platform as channel,
        session_started_at as touched_at,
        utm_source,
        utm_medium,
        utm_campaign
    from sessions

    union all

    select
        'order:' || cast(order_id as {{ dbt.type_string() }}) as touch_id,
        customer_id,
        'ecommerce_orders' as touch_source,
        source_name as channel,
        ordered_at as touched_at,
        utm_source,
        utm_medium,
        utm_campaign
    from orders

    union all

    select
        'receipt:' || receipt_id as touch_id,
        customer_id,
        'store_transactions' as touch_source,
        'store' as channel,
        transacted_at as touched_at,
        null as utm_source,
        null as utm_medium,
        null as utm_campaign
    from receipts

    union all

    select
        'email_message:' || message_id as touch_id,
        customer_id,
        'email_events' as touch_source,
        'email' as channel,
        touched_at,
        utm_source,
        utm_medium,
        utm_campaign
    from email_messages_engaged

    union all

    select
        'support_ticket:' || cast(ticket_id as {{ dbt.type_string() }}) as touch_id,
        customer_id,
        'support_tickets' as touch_source,
        'support' as channel,
        created_at as touched_at,
        null as utm_source,
        null as utm_medium,
        null as utm_campaign
    from tickets

    union all

    select
        'survey_response:' || response_id as touch_id,
        customer_id,
        'survey_responses' as touch_source,
        case channel
            when 'kiosk' then 'store'
            else channel
        end as channel,
        responded_at as touched_at,
        null as utm_source,
        null as utm_medium,
        null as utm_campaign
    from responses

    union all

    select
        'product_review:' || review_id as touch_id,
        customer_id,
        'product_reviews' as touch_source,
        case channel
            when 'naver_shopping' then 'marketplace'
            when 'store_kiosk' then 'store'
            else channel
        end as channel,
        reviewed_at as touched_at,
        null as utm_source,
        null as utm_medium,
        null as utm_campaign
    from reviews

    union all

    select
        'social_mention:' || mention_id as touch_id,
        customer_id,
        'social_mentions' as touch_source,
        'social' as channel,
        posted_at as touched_at,
        null as utm_source,
        null as utm_medium,
        null as utm_campaign
    from mentions

),

final as (

    select
        touch_id,
        customer_id,
        touch_source,
        channel,
        touched_at,
        {{ to_business_date('touched_at') }} as touch_date,
        utm_source,
        utm_medium,
        utm_campaign,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from touches_unioned

)

select * from final
