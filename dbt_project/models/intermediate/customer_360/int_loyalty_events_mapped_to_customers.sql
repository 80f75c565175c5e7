{#- Ledger entries carry the member id and, for card-linked entries, the card number.
    The member id is first turned into the CRM account that holds it (the strongest
    identifier); then the card; then the member id itself, which the resolver keeps as
    an internal node (loyalty_member_id) - a member without CRM account or card. -#}
{%- set ledger_identifiers = {
    'account_id': 'member_accounts.account_id',
    'loyalty_card': 'ledger.loyalty_card_number',
    'loyalty_member_id': 'ledger.loyalty_member_id',
} -%}

with

ledger as (

    select * from {{ ref('stg_loyalty_events__events') }}

),

accounts as (

    select * from {{ ref('stg_crm_customers__accounts') }}

),

-- not materialized: every identifier join then probes the map's primary key; a
-- materialized copy has no index, and the planner, which estimates the staging views
-- at a handful of rows, would scan it once per record
identifier_map as not materialized (

    select * from {{ source('identity', 'identifier_map') }}

),

-- one account per member id; should two accounts claim one member id, the lowest
-- account id is used (identity resolution decides whether they are one customer)
member_accounts as (

    select
        loyalty_member_id,
        min(account_id) as account_id
    from accounts
    where loyalty_member_id is not null
    group by loyalty_member_id

),

ledger_mapped as (

    select
        ledger.loyalty_event_id,
        {{ customer_id_by_precedence(ledger_identifiers) }} as customer_id,
        {{ matched_identifier_type(ledger_identifiers) }} as matched_identifier_type,
        ledger.loyalty_member_id,
        ledger.event_type,
        ledger.points,
        ledger.tier_after,
        ledger.channel,
        ledger.event_at,
        ledger.event_date
    from ledger
    left join member_accounts
        on ledger.loyalty_member_id = member_accounts.loyalty_member_id
    {{ join_identifier_map(ledger_identifiers) }}

),

final as (

    select * from ledger_mapped

)

select * from final
