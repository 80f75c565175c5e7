{#- Mapping a source record to its customer_id through identity.identifier_map.

    A record can carry several normalised identifiers (an order has an account id, an
    email and a phone). Each is looked up in the identifier map; the customer_id of the
    strongest identifier that is in the map wins, in this fixed precedence:

        account_id > email > phone > loyalty_card > loyalty_member_id > app_instance_id
        > cookie_id > social_handle

    (a login is the strongest proof of who acted, then contact points the customer typed,
    then a card, then device ids, then a public handle). loyalty_member_id is the
    resolver's internal node for a loyalty member id (not published); it ranks with the
    card it stands for. The identity resolver normally
    maps all of a record's identifiers to one customer, so the precedence only decides
    the rare records whose identifiers the resolver kept apart (e.g. a shared phone).

    `identifiers` is a dict {identifier_type: column expression}; the macros order it by
    the precedence above, whatever order the dict is written in. The model needs an
    import CTE named `identifier_map` (or pass `identifier_map=`). Usage:

        {%- set order_identifiers = {'account_id': 'orders.account_id', 'email': 'orders.email_normalized'} %}
        select
            {{ customer_id_by_precedence(order_identifiers) }} as customer_id,
            {{ matched_identifier_type(order_identifiers) }} as matched_identifier_type
        from orders
        {{ join_identifier_map(order_identifiers) }}
-#}

{% macro customer_identifier_precedence() -%}
    {{ return(['account_id', 'email', 'phone', 'loyalty_card', 'loyalty_member_id', 'app_instance_id', 'cookie_id', 'social_handle']) }}
{%- endmacro %}


{% macro ordered_identifier_types(identifiers) -%}
    {%- set precedence = customer_identifier_precedence() -%}
    {%- for identifier_type in identifiers -%}
        {%- if identifier_type not in precedence -%}
            {{ exceptions.raise_compiler_error("unknown identifier type '" ~ identifier_type ~ "'; expected one of " ~ precedence | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(precedence | select('in', identifiers) | list) }}
{%- endmacro %}


{% macro join_identifier_map(identifiers, identifier_map='identifier_map') -%}
    {%- for identifier_type in ordered_identifier_types(identifiers) %}
    left join {{ identifier_map }} as {{ identifier_type }}_match
        on {{ identifier_type }}_match.identifier_type = '{{ identifier_type }}'
        and {{ identifier_type }}_match.identifier_value = {{ identifiers[identifier_type] }}
    {%- endfor %}
{%- endmacro %}


{% macro customer_id_by_precedence(identifiers) -%}
    coalesce(
        {%- for identifier_type in ordered_identifier_types(identifiers) %}
        {{ identifier_type }}_match.customer_id{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}


{% macro matched_identifier_type(identifiers) -%}
    case
        {%- for identifier_type in ordered_identifier_types(identifiers) %}
        when {{ identifier_type }}_match.customer_id is not null then '{{ identifier_type }}'
        {%- endfor %}
    end
{%- endmacro %}


{#- Incremental mapping (issue 8): which records a mapped model re-maps tonight.

    changed_records_filter(records, record_key, identifiers, changed_since=none)
        In an incremental run, `where <records>.<record_key> in (...)` keeping the
        records that (1) match any predicate of `changed_since` (default: loaded since
        the model's `_loaded_at` watermark), or (2) carry an identifier whose
        identity.identifier_map row the resolver inserted or moved to another customer
        since this model last ran (identifier_map.updated_at above the `_changed_at`
        watermark). Nothing in a full run. Place it after join_identifier_map; the
        `records` and `identifier_map` CTEs must be `not materialized` (each is read
        several times and must stay an indexed scan, not a copy).
-#}

{% macro changed_records_filter(records, record_key, identifiers, changed_since=none, identifier_map='identifier_map') -%}
    {%- if is_incremental() %}
    {%- set predicates = changed_since if changed_since is not none
        else [loaded_since_last_run(records ~ '._loaded_at')] %}
    where {{ records }}.{{ record_key }} in (
        {%- for predicate in predicates %}
        select {{ records }}.{{ record_key }}
        from {{ records }}
        where {{ predicate }}
        union
        {%- endfor %}
        {%- for identifier_type in ordered_identifier_types(identifiers) %}
        select {{ records }}.{{ record_key }}
        from {{ records }}
        inner join {{ identifier_map }} as {{ identifier_type }}_remapped
            on {{ identifier_type }}_remapped.identifier_type = '{{ identifier_type }}'
            and {{ identifier_type }}_remapped.identifier_value = {{ identifiers[identifier_type] }}
        where {{ identifier_type }}_remapped.updated_at > {{ incremental_watermark('_changed_at') }}
        {{- "\n        union" if not loop.last }}
        {%- endfor %}
    )
    {%- endif %}
{%- endmacro %}
