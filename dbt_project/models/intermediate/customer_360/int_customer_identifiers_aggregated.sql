{{ customer_grain_config() }}
{#- The customer spine: every customer_id of the identity map. A customer is identified
    when we hold an identifier that names a person (email, phone, CRM account, loyalty
    card, or the resolver's internal loyalty_member_id node); customers known only by
    devices (cookie, app instance) or a public social handle are anonymous but kept,
    so their sessions and mentions still count. -#}
with

identifier_map as (

    select * from {{ source('identity', 'identifier_map') }}
    {{ touched_customers_filter() }}

),

final as (

    select
        customer_id,
        {{ dbt.bool_or("identifier_type in ('email', 'phone', 'account_id', 'loyalty_card', 'loyalty_member_id')") }} as is_identified,
        count(*) as identifier_count,
        min(first_seen_at) as identifier_first_seen_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from identifier_map
    group by customer_id

)

select * from final
