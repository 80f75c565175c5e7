{#- Building blocks of int_identifier_edges_collected (issue 4 §2).

    identity_record_identifiers(relation, source, record_id, seen_at, identifiers)
        One row per (record, identifier) of `relation`: `identifiers` is a list of
        [identifier_type, column expression] pairs, the expressions already normalised
        by the staging macros. Null values are skipped. The relation must expose
        `_load_id` and `_loaded_at`.

    identity_not_blocked(type_column, value_column)
        True unless the identifier is on the block list (seed identifier_blocklist):
        an exact (type, value) entry, or for emails an `email_local_part` entry
        matching the part before '@'. Same rule as is_blocked_identifier() in
        macros/staging/blocklist.sql, written as two hashable anti-joins because the
        type here is a column, not a literal.
-#}

{% macro identity_record_identifiers(relation, source, record_id, seen_at, identifiers) -%}
    {%- for identifier in identifiers %}
    select
        '{{ source }}'::text as source,
        ({{ record_id }})::text as record_id,
        {{ seen_at }} as seen_at,
        _load_id::text as _load_id,
        _loaded_at,
        '{{ identifier[0] }}'::text as identifier_type,
        ({{ identifier[1] }})::text as identifier_value
    from {{ relation }}
    where ({{ identifier[1] }}) is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro identity_not_blocked(type_column, value_column) -%}
    not exists (
        select 1
        from {{ ref('identifier_blocklist') }} as blocked
        where blocked.identifier_type = {{ type_column }}
            and blocked.identifier_value = {{ value_column }}
    )
    and not exists (
        select 1
        from {{ ref('identifier_blocklist') }} as blocked_local_part
        where {{ type_column }} = 'email'
            and blocked_local_part.identifier_type = 'email_local_part'
            and blocked_local_part.identifier_value = split_part({{ value_column }}, '@', 1)
    )
{%- endmacro %}


{#- Social handle written in a social-channel ticket's description by the help desk's
    social integration: '[instagram DM @minji_k] ...'. Returns the canonical
    'platform:@handle' or null. -#}
{% macro identity_ticket_social_handle(description_column) -%}
    {%- set match -%}
        regexp_match({{ description_column }}, '^\s*\[([A-Za-z_]+) DM (@?[A-Za-z0-9_.]+)\]')
    {%- endset -%}
    {{ normalize_social_handle("(" ~ match ~ ")[1]", "(" ~ match ~ ")[2]") }}
{%- endmacro %}
