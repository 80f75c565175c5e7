{#- Identifier normalisation (issue 4 §1). Staging exposes the normalised identifiers;
    the identity layer matches on them and drops block-listed values with
    is_blocked_identifier() (see blocklist.sql). Every macro returns null for an
    empty or unusable value, never ''. -#}

{#- Email: whitespace trimmed, lower-cased; null unless it looks like local@domain.tld.
    With var('strip_email_plus_address') true, 'minji+news@x.com' becomes 'minji@x.com'
    (off by default: plus-addresses may be distinct mailboxes on some providers). -#}
{% macro normalize_email(column_name) -%}
    {%- set cleaned -%}
        lower(regexp_replace({{ column_name }}, '^\s+|\s+$', '', 'g'))
    {%- endset -%}
    {%- if var('strip_email_plus_address', false) -%}
        {%- set cleaned -%}
            regexp_replace({{ cleaned }}, '\+[^@]*@', '@')
        {%- endset -%}
    {%- endif -%}
    case
        when {{ cleaned }} ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then {{ cleaned }}
    end
{%- endmacro %}


{#- Phone to E.164 with South Korea (+82) as the default region.
      010-1234-5678, 01012345678, +82 10-1234-5678, 82-10-1234-5678, +82-(0)10-1234-5678,
      +82 010 1234 5678, 0082 10 1234 5678          -> +821012345678
      02-123-4567 (Seoul landline)                    -> +8221234567
      +1 415 555 0100 (other country, with +)         -> +14155550100
    Null for: letters or other symbols, too few/many digits, national numbers that are
    not a KR mobile (01x), area (02, 0[3-6][1-5]), 070 or 080 number, and service
    numbers without an area code (1588-xxxx). -#}
{% macro normalize_phone_e164(column_name) -%}
    {%- set trimmed -%}
        regexp_replace({{ column_name }}, '^\s+|\s+$', '', 'g')
    {%- endset -%}
    {#- digits only, after dropping the '(0)' trunk prefix some write after +82 -#}
    {%- set digits -%}
        regexp_replace(replace({{ trimmed }}, '(0)', ''), '[^0-9]', '', 'g')
    {%- endset -%}
    {#- KR national significant number (no trunk 0), or null when not KR -#}
    {%- set kr_national -%}
        case
            when {{ trimmed }} like '+%' and {{ digits }} like '82%'
                then regexp_replace(substr({{ digits }}, 3), '^0', '')
            when {{ trimmed }} like '+%'
                then null
            when {{ digits }} like '0082%'
                then regexp_replace(substr({{ digits }}, 5), '^0', '')
            when {{ digits }} like '0%'
                then substr({{ digits }}, 2)
            when {{ digits }} like '82%'
                then regexp_replace(substr({{ digits }}, 3), '^0', '')
            else {{ digits }}
        end
    {%- endset -%}
    case
        when {{ trimmed }} !~ '^\+?[0-9 ().-]+$' then null
        when ({{ kr_national }}) ~ '^(1[016789][0-9]{7,8}|2[0-9]{7,8}|[3-6][1-5][0-9]{7,8}|70[0-9]{8}|80[0-9]{7,8})$'
            then '+82' || ({{ kr_national }})
        when {{ trimmed }} like '+%' and {{ digits }} not like '82%' and {{ digits }} ~ '^[1-9][0-9]{7,14}$'
            then '+' || {{ digits }}
    end
{%- endmacro %}


{#- CRM account id (also web/app user_id): trimmed, upper-cased. -#}
{% macro normalize_account_id(column_name) -%}
    nullif(upper(trim({{ column_name }})), '')
{%- endmacro %}


{#- Loyalty member id (M + 8 digits): trimmed, upper-cased. -#}
{% macro normalize_loyalty_member_id(column_name) -%}
    nullif(upper(trim({{ column_name }})), '')
{%- endmacro %}


{#- Loyalty card number: digits only ('9410-1234 1234-1234' -> '9410123412341234'). -#}
{% macro normalize_loyalty_card(column_name) -%}
    nullif(regexp_replace({{ column_name }}, '[^0-9]', '', 'g'), '')
{%- endmacro %}


{#- Device identifiers (GA4 cookie user_pseudo_id, Firebase app_instance_id): trimmed
    only; they are case-sensitive opaque strings. -#}
{% macro normalize_device_id(column_name) -%}
    nullif(trim({{ column_name }}), '')
{%- endmacro %}


{#- Canonical social handle 'platform:@handle', lower-case, from a platform and a
    handle ('@Minji_K', 'minji_k'); 'twitter' is read as 'x'. Null when either part is
    missing. -#}
{% macro normalize_social_handle(platform_expression, handle_expression) -%}
    {%- set platform -%}
        lower(trim({{ platform_expression }}))
    {%- endset -%}
    {%- set handle -%}
        lower(regexp_replace(trim({{ handle_expression }}), '^@+', ''))
    {%- endset -%}
    case
        when nullif({{ platform }}, '') is not null and nullif({{ handle }}, '') is not null
            then
                case when {{ platform }} = 'twitter' then 'x' else {{ platform }} end
                || ':@' || {{ handle }}
    end
{%- endmacro %}


{#- Same, from a combined 'platform:@handle' value (CRM's social_handle). -#}
{% macro normalize_social_handle_combined(column_name) -%}
    case
        when position(':' in {{ column_name }}) > 0
            then {{ normalize_social_handle(
                "split_part(" ~ column_name ~ ", ':', 1)",
                "substr(" ~ column_name ~ ", position(':' in " ~ column_name ~ ") + 1)"
            ) }}
    end
{%- endmacro %}
