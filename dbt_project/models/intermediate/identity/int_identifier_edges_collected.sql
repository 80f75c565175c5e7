{{
    config(
        materialized='table',
        tags=['identity_input'],
        indexes=[{'columns': ['_loaded_at']}],
    )
}}
{#- The identity graph's edges: one row per pair of identifiers that occur together
    in one source record, and one row for a record holding a single identifier (so that
    every identifier seen gets a customer). Read by touchpoint.identity.resolve, which
    picks up rows with _loaded_at above its watermark. See docs/identity.md. -#}

with

crm_accounts as (

    select * from {{ ref('stg_crm_customers__accounts') }}

),

orders as (

    select * from {{ ref('stg_ecommerce_orders__orders') }}

),

web_events as (

    select * from {{ ref('stg_web_events__events') }}

),

app_events as (

    select * from {{ ref('stg_app_events__events') }}

),

loyalty_events as (

    select * from {{ ref('stg_loyalty_events__events') }}

),

receipts as (

    select * from {{ ref('stg_store_transactions__receipts') }}

),

tickets as (

    select * from {{ ref('stg_support_tickets__tickets') }}

),

survey_responses as (

    select * from {{ ref('stg_survey_responses__responses') }}

),

reviews as (

    select * from {{ ref('stg_product_reviews__reviews') }}

),

email_events as (

    select * from {{ ref('stg_email_events__events') }}

),

social_mentions as (

    select * from {{ ref('stg_social_mentions__mentions') }}

),

-- High-volume event streams: the events of one device (and login) in one load are one
-- record group; its first event stands for the group.
web_device_groups as (

    select
        cookie_id,
        account_id,
        (array_agg(web_event_id order by event_at, web_event_id))[1] as record_id,
        min(event_at) as seen_at,
        _load_id,
        max(_loaded_at) as _loaded_at
    from web_events
    where cookie_id is not null
    group by cookie_id, account_id, _load_id

),

app_device_groups as (

    select
        app_instance_id,
        account_id,
        (array_agg(app_event_id order by event_at, app_event_id))[1] as record_id,
        min(event_at) as seen_at,
        _load_id,
        max(_loaded_at) as _loaded_at
    from app_events
    where app_instance_id is not null
    group by app_instance_id, account_id, _load_id

),

email_recipient_groups as (

    select
        email_normalized,
        (array_agg(email_event_id order by event_at, email_event_id))[1] as record_id,
        min(event_at) as seen_at,
        _load_id,
        max(_loaded_at) as _loaded_at
    from email_events
    where email_normalized is not null
    group by email_normalized, _load_id

),

-- A GA4 purchase event carries the order id (transaction_id): the device that placed
-- the order belongs to whoever the order names (guest checkouts included). Record id:
-- the order id. The edge is new when either side is newly loaded.
web_purchases as (

    select
        orders.order_id,
        web_events.event_at,
        web_events.cookie_id,
        orders.account_id,
        orders.email_normalized,
        orders.phone_e164,
        web_events._load_id,
        greatest(web_events._loaded_at, orders._loaded_at) as _loaded_at
    from web_events
    join orders
        on orders.order_id = web_events.transaction_id
    where web_events.event_name = 'purchase'
        and web_events.cookie_id is not null

),

app_purchases as (

    select
        orders.order_id,
        app_events.event_at,
        app_events.app_instance_id,
        orders.account_id,
        orders.email_normalized,
        orders.phone_e164,
        app_events._load_id,
        greatest(app_events._loaded_at, orders._loaded_at) as _loaded_at
    from app_events
    join orders
        on orders.order_id = app_events.transaction_id
    where app_events.event_name = 'purchase'
        and app_events.app_instance_id is not null

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
-- mapped; one row per identifier of a record.
usable_identifiers as (

    select distinct
        source,
        record_id,
        seen_at,
        _load_id,
        _loaded_at,
        identifier_type,
        identifier_value
    from record_identifiers
    where {{ identity_not_blocked('record_identifiers.identifier_type', 'record_identifiers.identifier_value') }}

),

identifiers_per_record as (

    select
        *,
        count(*) over (partition by source, record_id, _load_id) as identifiers_in_record
    from usable_identifiers

),

pairs as (

    select
        a.identifier_type as identifier_a_type,
        a.identifier_value as identifier_a_value,
        b.identifier_type as identifier_b_type,
        b.identifier_value as identifier_b_value,
        a.source,
        a.record_id,
        a.seen_at,
        a._load_id,
        a._loaded_at
    from identifiers_per_record as a
    join identifiers_per_record as b
        on a.source = b.source
        and a.record_id = b.record_id
        and a._load_id = b._load_id
        and (a.identifier_type, a.identifier_value) < (b.identifier_type, b.identifier_value)

),

singles as (

    select
        identifier_type as identifier_a_type,
        identifier_value as identifier_a_value,
        cast(null as text) as identifier_b_type,
        cast(null as text) as identifier_b_value,
        source,
        record_id,
        seen_at,
        _load_id,
        _loaded_at
    from identifiers_per_record
    where identifiers_in_record = 1

),

final as (

    select * from pairs
    union all
    select * from singles

)

select * from final
