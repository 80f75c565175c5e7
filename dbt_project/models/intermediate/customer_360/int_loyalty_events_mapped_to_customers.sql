{{
    config(
        materialized='incremental',
        unique_key='loyalty_event_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['loyalty_event_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['_changed_at']},
            {'columns': ['customer_id']},
        ],
    )
}}
{#- Incremental (issue 8): a night re-maps only the entries loaded since the model last
    ran (loaded_since_last_run), the entries of member ids whose CRM accounts came in a
    load that committed after the model last ran (committed_since_last_run), and those with an identifier the resolver mapped or moved
    to another customer since the last run; merged on loyalty_event_id. -#}
{#- Ledger entries carry the member id and, for card-linked entries, the card number.
    The member id is first turned into the CRM account that holds it (the strongest
    identifier); then the card; then the member id itself, which the resolver keeps as
    an internal node (loyalty_member_id) - a member without CRM account or card. -#}
{%- set ledger_identifiers = {
    'account_id': 'ledger_joined_to_accounts.member_account_id',
    'loyalty_card': 'ledger_joined_to_accounts.loyalty_card_number',
    'loyalty_member_id': 'ledger_joined_to_accounts.loyalty_member_id',
} -%}

with

ledger as not materialized (

    select * from {{ ref('stg_loyalty_events__events') }}

),

accounts as not materialized (

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
member_accounts as not materialized (

    select
        loyalty_member_id,
        min(account_id) as account_id
    from accounts
    where loyalty_member_id is not null
    group by loyalty_member_id

),

ledger_joined_to_accounts as not materialized (

    select
        ledger.*,
        member_accounts.account_id as member_account_id
    from ledger
    left join member_accounts
        on ledger.loyalty_member_id = member_accounts.loyalty_member_id

),

ledger_mapped as (

    select
        ledger_joined_to_accounts.loyalty_event_id,
        {{ customer_id_by_precedence(ledger_identifiers) }} as customer_id,
        {{ matched_identifier_type(ledger_identifiers) }} as matched_identifier_type,
        ledger_joined_to_accounts.loyalty_member_id,
        ledger_joined_to_accounts.event_type,
        ledger_joined_to_accounts.points,
        ledger_joined_to_accounts.tier_after,
        ledger_joined_to_accounts.channel,
        ledger_joined_to_accounts.event_at,
        ledger_joined_to_accounts.event_date,
        ledger_joined_to_accounts._loaded_at,
        cast('{{ run_started_at }}' as timestamptz) as _changed_at
    from ledger_joined_to_accounts
    {{ join_identifier_map(ledger_identifiers) }}
    {{ changed_records_filter(
        'ledger_joined_to_accounts',
        'loyalty_event_id',
        ledger_identifiers,
        changed_since=[
            loaded_since_last_run('ledger_joined_to_accounts._loaded_at'),
            'ledger_joined_to_accounts.loyalty_member_id in (select loyalty_member_id from accounts where '
                ~ committed_since_last_run('accounts._load_id', 'crm_customers') ~ ')',
        ],
    ) }}

),

final as (

    select * from ledger_mapped

)

select * from final
