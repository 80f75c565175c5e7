{{ customer_grain_config() }}
{#- One row per identity-resolved customer: golden-record attributes (PII hashed or
    masked), consent, acquisition, channels, sessions, orders, email engagement,
    feedback and loyalty. Each block is computed in an intermediate model
    (intermediate/customer_360); this model only joins them. See docs/customer_360.md.
    Incremental (issue 8): a night rewrites the customers of
    int_customers_touched_collected (new or re-mapped records, merges, rolling-window
    crossings); absorbed customer ids are deleted. The as-of date of the windowed
    metrics is the night's data date, not a column: a per-row copy would rewrite every
    row every night. -#}
with

customers as (

    select * from {{ ref('int_customer_identifiers_aggregated') }}
    {{ touched_customers_filter() }}

),

attributes as (

    select * from {{ ref('int_customer_attributes_survived') }}
    {{ touched_customers_filter() }}

),

consents as (

    select * from {{ ref('int_customer_consents_resolved') }}
    {{ touched_customers_filter() }}

),

channels as (

    select * from {{ ref('int_customer_channels_aggregated') }}
    {{ touched_customers_filter() }}

),

sessions as (

    select * from {{ ref('int_customer_sessions_aggregated') }}
    {{ touched_customers_filter() }}

),

orders as (

    select * from {{ ref('int_customer_orders_aggregated') }}
    {{ touched_customers_filter() }}

),

email_engagement as (

    select * from {{ ref('int_customer_email_engagement_aggregated') }}
    {{ touched_customers_filter() }}

),

feedback as (

    select * from {{ ref('int_customer_feedback_aggregated') }}
    {{ touched_customers_filter() }}

),

loyalty as (

    select * from {{ ref('int_customer_loyalty_aggregated') }}
    {{ touched_customers_filter() }}

),

final as (

    select
        customers.customer_id,
        customers.is_identified,
        customers.identifier_count,

        -- golden record, PII pseudonymised or masked
        {{ mask_name('attributes.name') }} as name_masked,
        {{ pseudonym('attributes.email_normalized') }} as email_hmac,
        {{ mask_phone('attributes.phone_e164') }} as phone_masked,
        attributes.gender,
        attributes.birth_year,
        attributes.city,

        coalesce(consents.has_email_consent, false) as has_email_consent,
        coalesce(consents.has_sms_consent, false) as has_sms_consent,
        coalesce(consents.has_push_consent, false) as has_push_consent,
        consents.consent_updated_at,

        -- least() skips nulls: the identity map may have seen an identifier (e.g. a
        -- loyalty card in the ledger) before any touch
        least(channels.first_seen_at, customers.identifier_first_seen_at) as first_seen_at,
        channels.last_seen_at,
        channels.acquisition_channel,
        channels.acquisition_source,
        channels.acquisition_medium,
        channels.acquisition_campaign,
        coalesce(channels.channel_count, 0) as channel_count,
        channels.channels_used,
        channels.preferred_channel,

        coalesce(sessions.web_session_count_last_30_days, 0) as web_session_count_last_30_days,
        coalesce(sessions.web_session_count_last_90_days, 0) as web_session_count_last_90_days,
        coalesce(sessions.app_session_count_last_30_days, 0) as app_session_count_last_30_days,
        coalesce(sessions.app_session_count_last_90_days, 0) as app_session_count_last_90_days,

        coalesce(orders.order_count, 0) as order_count,
        coalesce(orders.online_order_count, 0) as online_order_count,
        coalesce(orders.offline_order_count, 0) as offline_order_count,
        coalesce(orders.net_revenue_krw, 0) as net_revenue_krw,
        coalesce(orders.online_net_revenue_krw, 0) as online_net_revenue_krw,
        coalesce(orders.offline_net_revenue_krw, 0) as offline_net_revenue_krw,
        orders.average_order_value_krw,
        orders.first_order_date,
        orders.last_order_date,

        coalesce(email_engagement.email_sent_count, 0) as email_sent_count,
        coalesce(email_engagement.email_delivered_count, 0) as email_delivered_count,
        coalesce(email_engagement.email_opened_count, 0) as email_opened_count,
        coalesce(email_engagement.email_clicked_count, 0) as email_clicked_count,
        email_engagement.email_open_rate,
        email_engagement.email_click_rate,

        coalesce(feedback.support_ticket_count, 0) as support_ticket_count,
        coalesce(feedback.open_support_ticket_count, 0) as open_support_ticket_count,
        feedback.latest_nps_score,
        feedback.nps_group,
        feedback.csat_rate,
        coalesce(feedback.csat_response_count, 0) as csat_response_count,
        coalesce(feedback.review_count, 0) as review_count,
        feedback.average_review_rating,
        coalesce(feedback.social_mention_count, 0) as social_mention_count,

        coalesce(loyalty.is_loyalty_member, false) as is_loyalty_member,
        loyalty.loyalty_tier,
        loyalty.loyalty_points_balance,

        -- placeholders, filled by later marts (see the column descriptions)
        cast(null as {{ dbt.type_string() }}) as journey_stage,
        cast(null as {{ dbt.type_string() }}) as rfm_segment,
        cast(null as {{ dbt.type_numeric() }}) as predicted_clv_krw,

        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customers
    left join attributes
        on customers.customer_id = attributes.customer_id
    left join consents
        on customers.customer_id = consents.customer_id
    left join channels
        on customers.customer_id = channels.customer_id
    left join sessions
        on customers.customer_id = sessions.customer_id
    left join orders
        on customers.customer_id = orders.customer_id
    left join email_engagement
        on customers.customer_id = email_engagement.customer_id
    left join feedback
        on customers.customer_id = feedback.customer_id
    left join loyalty
        on customers.customer_id = loyalty.customer_id

)

select * from final
