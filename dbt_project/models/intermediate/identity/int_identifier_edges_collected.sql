{{
    config(
        materialized='incremental',
        unique_key=['source', 'record_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['identity_input'],
        pre_hook='set local jit = off',
        indexes=[
            {'columns': ['source', 'record_id']},
            {'columns': ['_loaded_at']},
            {'columns': ['identifier_a_type', 'identifier_a_value']},
            {'columns': ['identifier_b_type', 'identifier_b_value']},
        ],
    )
}}
{#- The identity graph's edges: one row per pair of identifiers that occur together
    in one source record, and one row for a record holding a single identifier (so that
    every identifier seen gets a customer). Read by touchpoint.identity.resolve, which
    picks up rows with _loaded_at above its watermark. See docs/identity.md.

    Incremental (issue 8), delete+insert on (source, record_id): a night rebuilds, whole,
    only the records with a staging row loaded since the watermark (max _loaded_at minus
    the lookback): their latest version; for a device (or recipient) day, tonight's events
    folded into the group already stored; for an order's purchase events, the order and
    all its purchase events, when either side is new. A record re-read in the lookback is
    rewritten with the same rows and _loaded_at, so the resolver sees nothing new.

    The two identifier indexes serve the resolver: it recomputes a touched
    identifier's first/last seen and sources from every edge that holds it.

    Linear cost: no join of two CTEs. The purchase events meet their orders in one
    window over the union of both sides (partitioned by order id), the pairs of a record
    come from its sorted identifier array, and an incremental night reaches history only
    through index probes (orders by order_id, purchase events by transaction_id, this
    table by (source, record_id)). -#}

with

crm_accounts as (

    select * from {{ ref('stg_crm_customers__accounts') }}
    {{ incremental_filter() }}

),

orders as (

    select * from {{ ref('stg_ecommerce_orders__orders') }}
    {{ incremental_filter() }}

),

web_events as (

    select * from {{ ref('stg_web_events__events') }}
    {{ incremental_filter() }}

),

app_events as (

    select * from {{ ref('stg_app_events__events') }}
    {{ incremental_filter() }}

),

loyalty_events as (

    select * from {{ ref('stg_loyalty_events__events') }}
    {{ incremental_filter() }}

),

receipts as (

    select * from {{ ref('stg_store_transactions__receipts') }}
    {{ incremental_filter() }}

),

tickets as (

    select * from {{ ref('stg_support_tickets__tickets') }}
    {{ incremental_filter() }}

),

survey_responses as (

    select * from {{ ref('stg_survey_responses__responses') }}
    {{ incremental_filter() }}

),

reviews as (

    select * from {{ ref('stg_product_reviews__reviews') }}
    {{ incremental_filter() }}

),

email_events as (

    select * from {{ ref('stg_email_events__events') }}
    {{ incremental_filter() }}

),

social_mentions as (

    select * from {{ ref('stg_social_mentions__mentions') }}
    {{ incremental_filter() }}

),

purchase_events as (

    select * from {{ ref('int_purchase_events_unioned') }}
    {{ incremental_filter() }}

),

-- High-volume event streams: the events of one device and login (or one recipient) on
-- one business date are one record; record_id is a key of the group, so a late or
-- re-sent event lands in the same record whatever load brought it.
web_device_days as (

    select
        cookie_id,
        account_id,
        {{ touchpoint_surrogate_key(['cookie_id', 'account_id', 'event_date']) }} as record_id,
        min(event_at) as seen_at,
        (array_agg(_load_id::text order by _loaded_at desc, _load_id desc))[1] as _load_id,
        max(_loaded_at) as _loaded_at
    from web_events
    where cookie_id is not null
    group by cookie_id, account_id, event_date

),

app_device_days as (

    select
        app_instance_id,
        account_id,
        {{ touchpoint_surrogate_key(['app_instance_id', 'account_id', 'event_date']) }} as record_id,
        min(event_at) as seen_at,
        (array_agg(_load_id::text order by _loaded_at desc, _load_id desc))[1] as _load_id,
        max(_loaded_at) as _loaded_at
    from app_events
    where app_instance_id is not null
    group by app_instance_id, account_id, event_date

),

email_recipient_days as (

    select
        email_normalized,
        {{ touchpoint_surrogate_key(['email_normalized', 'event_date']) }} as record_id,
        min(event_at) as seen_at,
        (array_agg(_load_id::text order by _loaded_at desc, _load_id desc))[1] as _load_id,
        max(_loaded_at) as _loaded_at
    from email_events
    where email_normalized is not null
    group by email_normalized, event_date

),

-- web_events: tonight's events folded into the group already stored (its first
-- event may be older); one index probe of this table per group
web_device_groups as (

    select
        web_device_days.cookie_id,
        web_device_days.account_id,
        web_device_days.record_id,
        {%- if is_incremental() %}
        least(web_device_days.seen_at, stored.seen_at) as seen_at,
        {%- else %}
        web_device_days.seen_at,
        {%- endif %}
        web_device_days._load_id,
        web_device_days._loaded_at
    from web_device_days
    {%- if is_incremental() %}
    left join lateral (
        select min(stored_edges.seen_at) as seen_at
        from {{ this }} as stored_edges
        where stored_edges.source = 'web_events'
            and stored_edges.record_id = web_device_days.record_id
    ) as stored on true
    {%- endif %}

),

-- app_events: tonight's events folded into the group already stored (its first
-- event may be older); one index probe of this table per group
app_device_groups as (

    select
        app_device_days.app_instance_id,
        app_device_days.account_id,
        app_device_days.record_id,
        {%- if is_incremental() %}
        least(app_device_days.seen_at, stored.seen_at) as seen_at,
        {%- else %}
        app_device_days.seen_at,
        {%- endif %}
        app_device_days._load_id,
        app_device_days._loaded_at
    from app_device_days
    {%- if is_incremental() %}
    left join lateral (
        select min(stored_edges.seen_at) as seen_at
        from {{ this }} as stored_edges
        where stored_edges.source = 'app_events'
            and stored_edges.record_id = app_device_days.record_id
    ) as stored on true
    {%- endif %}

),

-- email_events: tonight's events folded into the group already stored (its first
-- event may be older); one index probe of this table per group
email_recipient_groups as (

    select
        email_recipient_days.email_normalized,
        email_recipient_days.record_id,
        {%- if is_incremental() %}
        least(email_recipient_days.seen_at, stored.seen_at) as seen_at,
        {%- else %}
        email_recipient_days.seen_at,
        {%- endif %}
        email_recipient_days._load_id,
        email_recipient_days._loaded_at
    from email_recipient_days
    {%- if is_incremental() %}
    left join lateral (
        select min(stored_edges.seen_at) as seen_at
        from {{ this }} as stored_edges
        where stored_edges.source = 'email_events'
            and stored_edges.record_id = email_recipient_days.record_id
    ) as stored on true
    {%- endif %}

),

-- A GA4 purchase event carries the order id (transaction_id): the device that placed
-- the order belongs to whoever the order names (guest checkouts included). An order's
-- purchase record is rebuilt whole when the order or one of its events is new tonight.
{%- if is_incremental() %}
purchase_order_ids as (

    select order_id from orders
    union
    select transaction_id from purchase_events

),

-- index probes: the staging orders by order_id, the purchase events by transaction_id
orders_of_purchases as (

    select * from {{ ref('stg_ecommerce_orders__orders') }}
    where order_id in (select purchase_order_ids.order_id from purchase_order_ids)

),

purchase_events_of_orders as (

    select * from {{ ref('int_purchase_events_unioned') }}
    where transaction_id in (select purchase_order_ids.order_id from purchase_order_ids)

),
{%- else %}
orders_of_purchases as (

    select * from orders

),

purchase_events_of_orders as (

    select * from purchase_events

),
{%- endif %}

-- Both sides of the purchase join as rows of one relation, so that they meet in a
-- window partitioned by order id (a sort or hash, never a per-row rescan).
purchase_sides as (

    select
        order_id,
        true as is_order,
        cast(null as text) as source,
        cast(null as text) as device_id_type,
        cast(null as text) as device_id,
        cast(null as timestamptz) as event_at,
        account_id,
        email_normalized,
        phone_e164,
        _load_id::text as _load_id,
        _loaded_at
    from orders_of_purchases

    union all

    select
        transaction_id as order_id,
        false as is_order,
        source,
        device_id_type,
        device_id,
        event_at,
        cast(null as text) as account_id,
        cast(null as text) as email_normalized,
        cast(null as text) as phone_e164,
        _load_id,
        _loaded_at
    from purchase_events_of_orders

),

purchase_sides_by_order as (

    select
        *,
        bool_or(is_order) over order_sides as has_order,
        max(account_id) over order_sides as order_account_id,
        max(email_normalized) over order_sides as order_email_normalized,
        max(phone_e164) over order_sides as order_phone_e164,
        max(_loaded_at) filter (where is_order) over order_sides as order_loaded_at,
        max(_load_id) filter (where is_order) over order_sides as order_load_id
    from purchase_sides
    window order_sides as (partition by order_id)

),

purchases_joined_to_orders as (

    select
        order_id,
        source,
        device_id_type,
        device_id,
        event_at,
        order_account_id as account_id,
        order_email_normalized as email_normalized,
        order_phone_e164 as phone_e164,
        case when order_loaded_at > _loaded_at then order_load_id else _load_id end as _load_id,
        greatest(_loaded_at, order_loaded_at) as _loaded_at
    from purchase_sides_by_order
    where not is_order
        and has_order

),

web_purchases as (

    select
        *,
        device_id as cookie_id
    from purchases_joined_to_orders
    where source = 'web_events'

),

app_purchases as (

    select
        *,
        device_id as app_instance_id
    from purchases_joined_to_orders
    where source = 'app_events'

),

-- The help desk's social integration writes the customer's handle at the start of a
-- social ticket's description: '[instagram DM @minji_k] ...'.
social_tickets as (

    select
        *,
        case
            when via_channel = 'social' then {{ identity_ticket_social_handle('description') }}
        end as social_handle_normalized
    from tickets

),

customer_mentions as (

    select * from social_mentions
    where not is_brand_post

),

record_identifiers as (

    {{ identity_record_identifiers('crm_accounts', 'crm_customers', 'account_id', 'updated_at', [
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
        ['phone', 'phone_e164'],
        ['loyalty_member_id', 'loyalty_member_id'],
        ['social_handle', 'social_handle_normalized'],
    ]) }}

    union all

    {{ identity_record_identifiers('orders', 'ecommerce_orders', 'order_id', 'ordered_at', [
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
        ['phone', 'phone_e164'],
    ]) }}

    union all

    {{ identity_record_identifiers('web_device_groups', 'web_events', 'record_id', 'seen_at', [
        ['cookie_id', 'cookie_id'],
        ['account_id', 'account_id'],
    ]) }}

    union all

    {{ identity_record_identifiers('web_purchases', 'web_events', 'order_id', 'event_at', [
        ['cookie_id', 'cookie_id'],
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
        ['phone', 'phone_e164'],
    ]) }}

    union all

    {{ identity_record_identifiers('app_device_groups', 'app_events', 'record_id', 'seen_at', [
        ['app_instance_id', 'app_instance_id'],
        ['account_id', 'account_id'],
    ]) }}

    union all

    {{ identity_record_identifiers('app_purchases', 'app_events', 'order_id', 'event_at', [
        ['app_instance_id', 'app_instance_id'],
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
        ['phone', 'phone_e164'],
    ]) }}

    union all

    {{ identity_record_identifiers('loyalty_events', 'loyalty_events', 'loyalty_event_id', 'event_at', [
        ['loyalty_card', 'loyalty_card_number'],
        ['loyalty_member_id', 'loyalty_member_id'],
    ]) }}

    union all

    {{ identity_record_identifiers('receipts', 'store_transactions', 'receipt_id', 'transacted_at', [
        ['loyalty_card', 'loyalty_card_number'],
    ]) }}

    union all

    {{ identity_record_identifiers('social_tickets', 'support_tickets', 'ticket_id', 'created_at', [
        ['email', 'email_normalized'],
        ['phone', 'phone_e164'],
        ['social_handle', 'social_handle_normalized'],
    ]) }}

    union all

    {{ identity_record_identifiers('survey_responses', 'survey_responses', 'response_id', 'responded_at', [
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
    ]) }}

    union all

    {{ identity_record_identifiers('reviews', 'product_reviews', 'review_id', 'reviewed_at', [
        ['account_id', 'account_id'],
        ['email', 'email_normalized'],
    ]) }}

    union all

    {{ identity_record_identifiers('email_recipient_groups', 'email_events', 'record_id', 'seen_at', [
        ['email', 'email_normalized'],
    ]) }}

    union all

    {{ identity_record_identifiers('customer_mentions', 'social_mentions', 'mention_id', 'posted_at', [
        ['social_handle', 'social_handle_normalized'],
    ]) }}

),

-- Block-listed values (placeholders, the shared store card) link nobody and are not
-- mapped.
usable_identifiers as (

    select * from record_identifiers
    where {{ identity_not_blocked('record_identifiers.identifier_type', 'record_identifiers.identifier_value') }}

),

-- One row per record: its distinct identifiers as a sorted (type, value) array; a
-- record made of several rows (an order's purchase events) is seen at its first and
-- loaded at its last.
records as (

    select
        source,
        record_id,
        min(seen_at) as seen_at,
        (array_agg(_load_id order by _loaded_at desc, _load_id desc))[1] as _load_id,
        max(_loaded_at) as _loaded_at,
        array_agg(distinct array[identifier_type, identifier_value]) as identifiers
    from usable_identifiers
    group by source, record_id

),

-- Each unordered pair of a record's identifiers once, the smaller first (the array is
-- sorted), from the record's own array: work per record, no join between records.
pairs as (

    select
        records.identifiers[first_position][1] as identifier_a_type,
        records.identifiers[first_position][2] as identifier_a_value,
        records.identifiers[second_position][1] as identifier_b_type,
        records.identifiers[second_position][2] as identifier_b_value,
        records.source,
        records.record_id,
        records.seen_at,
        records._load_id,
        records._loaded_at
    from records
    cross join lateral generate_series(1, array_length(records.identifiers, 1) - 1) as first_position
    cross join lateral generate_series(first_position + 1, array_length(records.identifiers, 1)) as second_position

),

singles as (

    select
        records.identifiers[1][1] as identifier_a_type,
        records.identifiers[1][2] as identifier_a_value,
        cast(null as text) as identifier_b_type,
        cast(null as text) as identifier_b_value,
        records.source,
        records.record_id,
        records.seen_at,
        records._load_id,
        records._loaded_at
    from records
    where array_length(records.identifiers, 1) = 1

),

final as (

    select * from pairs
    union all
    select * from singles

)

select * from final
