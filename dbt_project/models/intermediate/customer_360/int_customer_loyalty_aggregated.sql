{{ customer_grain_config() }}
{#- Tier and points come from the ledger only: the balance is the sum of the points
    deltas loaded so far, and the tier is the one set by the latest enrolment or tier
    change. A member whose enrolment and tier changes predate the ledger's history has
    no known tier (null). -#}
with

ledger as (

    select * from {{ ref('int_loyalty_events_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

accounts as (

    select * from {{ ref('int_crm_accounts_mapped_to_customers') }}
    {{ touched_customers_filter() }}

),

ledger_totals as (

    select
        customer_id,
        sum(points) as loyalty_points_balance
    from ledger
    where customer_id is not null
    group by customer_id

),

tier_events_ranked as (

    select
        customer_id,
        tier_after,
        row_number() over (
            partition by customer_id
            order by event_at desc, loyalty_event_id desc
        ) as recency_rank
    from ledger
    where customer_id is not null
        and event_type in ('enroll', 'tier_change')
        and tier_after is not null

),

current_tiers as (

    select
        customer_id,
        tier_after as loyalty_tier
    from tier_events_ranked
    where recency_rank = 1

),

crm_memberships as (

    select
        customer_id,
        {{ dbt.bool_or('is_loyalty_member') }} as has_member_account
    from accounts
    where customer_id is not null
    group by customer_id

),

customers_with_loyalty as (

    select customer_id from ledger_totals
    union
    select customer_id from crm_memberships
    where has_member_account

),

final as (

    select
        customers_with_loyalty.customer_id,
        -- a member account in the CRM or any ledger entry makes a member
        coalesce(crm_memberships.has_member_account, false)
            or ledger_totals.customer_id is not null as is_loyalty_member,
        current_tiers.loyalty_tier,
        ledger_totals.loyalty_points_balance,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from customers_with_loyalty
    left join ledger_totals
        on customers_with_loyalty.customer_id = ledger_totals.customer_id
    left join current_tiers
        on customers_with_loyalty.customer_id = current_tiers.customer_id
    left join crm_memberships
        on customers_with_loyalty.customer_id = crm_memberships.customer_id

)

select * from final
