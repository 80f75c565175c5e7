-- First slice of the spine (issue 2): one row per CRM account with its online orders.
-- Issue 4 replaces the account-level key with identity-resolved customer ids.
with

accounts as (

    select * from {{ ref('stg_crm_customers__accounts') }}

),

orders as (

    select * from {{ ref('stg_ecommerce_orders__orders') }}

),

order_totals_per_account as (

    select
        account_id,
        count(*) as order_count,
        sum(net_revenue_krw) as net_revenue_krw
    from orders
    where account_id is not null
    group by account_id

),

final as (

    select
        accounts.account_id as customer_id,
        coalesce(order_totals_per_account.order_count, 0) as order_count,
        coalesce(order_totals_per_account.net_revenue_krw, 0) as net_revenue_krw
    from accounts
    left join order_totals_per_account
        on accounts.account_id = order_totals_per_account.account_id

)

select * from final
