{#- Block list of placeholder / shared identifiers (seed identifier_blocklist).

    Staging keeps these values (they are real data points for data-quality counts);
    the identity layer must not match on them. Use in a where clause or a case:

        where not {{ is_blocked_identifier('email', 'email_normalized') }}

    identifier_type is one of: email, email_local_part, phone, loyalty_card,
    account_id, cookie_id, app_instance_id, social_handle. Seed values are stored
    already normalised (the output of the normalize_* macros). For 'email' the value
    is also checked against the 'email_local_part' rows, so 'noemail' blocks
    noemail@naver.com, noemail@gmail.com, ... -#}
{% macro is_blocked_identifier(identifier_type, column_name) -%}
    exists (
        select 1
        from {{ ref('identifier_blocklist') }} as blocklist
        where
            (
                blocklist.identifier_type = '{{ identifier_type }}'
                and blocklist.identifier_value = {{ column_name }}
            )
            {%- if identifier_type == 'email' %}
            or (
                blocklist.identifier_type = 'email_local_part'
                and blocklist.identifier_value = split_part({{ column_name }}, '@', 1)
            )
            {%- endif %}
    )
{%- endmacro %}
