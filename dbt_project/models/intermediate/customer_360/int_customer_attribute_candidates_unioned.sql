{{ customer_grain_config(row_key='attribute_candidate_id') }}
{#- Every value a source states for a golden-record attribute of a customer, one row
    per (source record, attribute). Values are text; birth_year is cast back after
    survivorship. Block-listed placeholder emails and phones (test@test.com,
    +821000000000) are not candidates. The ESP contributes one candidate per address
    (its latest event): its events are sends to a list, not statements by the
    customer, and counting each would outvote every other source. -#}
with

accounts as (

    select * from {{ ref('int_crm_accounts_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

orders as (

    select * from {{ ref('int_orders_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

tickets as (

    select * from {{ ref('int_support_tickets_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

responses as (

    select * from {{ ref('int_survey_responses_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

reviews as (

    select * from {{ ref('int_product_reviews_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

email_events as (

    select * from {{ ref('int_email_events_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

crm_candidates as (

    select
        accounts.customer_id,
        'crm_customers' as candidate_source,
        accounts.account_id as source_record_id,
        true as is_crm,
        accounts.updated_at as observed_at,
        attributes.attribute_name,
        attributes.attribute_value
    from accounts
    cross join lateral (
        values
            ('email', accounts.email_normalized),
            ('phone', accounts.phone_e164),
            ('name', accounts.name),
            ('gender', accounts.gender),
            ('birth_year', cast(accounts.birth_year as {{ dbt.type_string() }})),
            ('city', accounts.city)
    ) as attributes (attribute_name, attribute_value)
    where accounts.customer_id is not null

),

esp_addresses as (

    select
        customer_id,
        email_normalized,
        max(event_at) as last_event_at
    from email_events
    where customer_id is not null
    group by customer_id, email_normalized

),

other_source_candidates as (

    select
        customer_id,
        'ecommerce_orders' as candidate_source,
        cast(order_id as {{ dbt.type_string() }}) as source_record_id,
        ordered_at as observed_at,
        'email' as attribute_name,
        email_normalized as attribute_value
    from orders

    union all

    select
        customer_id,
        'ecommerce_orders' as candidate_source,
        cast(order_id as {{ dbt.type_string() }}) as source_record_id,
        ordered_at as observed_at,
        'phone' as attribute_name,
        phone_e164 as attribute_value
    from orders

    union all

    select
        customer_id,
        'support_tickets' as candidate_source,
        cast(ticket_id as {{ dbt.type_string() }}) as source_record_id,
        created_at as observed_at,
        'email' as attribute_name,
        email_normalized as attribute_value
    from tickets

    union all

    select
        customer_id,
        'support_tickets' as candidate_source,
        cast(ticket_id as {{ dbt.type_string() }}) as source_record_id,
        created_at as observed_at,
        'phone' as attribute_name,
        phone_e164 as attribute_value
    from tickets

    union all

    select
        customer_id,
        'survey_responses' as candidate_source,
        response_id as source_record_id,
        responded_at as observed_at,
        'email' as attribute_name,
        email_normalized as attribute_value
    from responses

    union all

    select
        customer_id,
        'product_reviews' as candidate_source,
        review_id as source_record_id,
        reviewed_at as observed_at,
        'email' as attribute_name,
        email_normalized as attribute_value
    from reviews

    union all

    select
        customer_id,
        'email_events' as candidate_source,
        email_normalized as source_record_id,
        last_event_at as observed_at,
        'email' as attribute_name,
        email_normalized as attribute_value
    from esp_addresses

),

candidates_unioned as (

    select
        customer_id,
        candidate_source,
        source_record_id,
        is_crm,
        observed_at,
        attribute_name,
        attribute_value
    from crm_candidates

    union all

    select
        customer_id,
        candidate_source,
        source_record_id,
        false as is_crm,
        observed_at,
        attribute_name,
        attribute_value
    from other_source_candidates
    where customer_id is not null

),

final as (

    select
        {{ touchpoint_surrogate_key(['candidate_source', 'source_record_id', 'attribute_name']) }} as attribute_candidate_id,
        customer_id,
        attribute_name,
        attribute_value,
        candidate_source,
        source_record_id,
        is_crm,
        observed_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from candidates_unioned
    where attribute_value is not null
        and not (
            attribute_name = 'email'
            and {{ is_blocked_identifier('email', 'candidates_unioned.attribute_value') }}
        )
        and not (
            attribute_name = 'phone'
            and {{ is_blocked_identifier('phone', 'candidates_unioned.attribute_value') }}
        )

)

select * from final
