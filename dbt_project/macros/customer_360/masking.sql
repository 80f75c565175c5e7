{#- PII masking and pseudonyms for the marts (customer_360 and customer_identity_map
    expose no raw email, phone or name). -#}

{#- Keyed pseudonym of a text value: lower-case hex HMAC-SHA-256 of its UTF-8 bytes with
    the warehouse's pseudonym key (touchpoint/pseudonyms.py). Built from the key's two
    RFC 2104 pads kept in identity.pseudonym_key, with built-in sha256() only (no
    pgcrypto): sha256(outer_pad || sha256(inner_pad || value)). The pads are read by
    uncorrelated scalar subqueries, which PostgreSQL evaluates once per statement.
    Without the key a reader of marts cannot test guesses; an unkeyed hash of a phone
    number would fall to a dictionary of every number. Null stays null. -#}
{% macro pseudonym(expression) -%}
    {{ return(adapter.dispatch('pseudonym')(expression)) }}
{%- endmacro %}

{% macro default__pseudonym(expression) -%}
    encode(
        sha256(
            (select pseudonym_key.outer_pad from {{ source('identity', 'pseudonym_key') }} as pseudonym_key)
            || sha256(
                (select pseudonym_key.inner_pad from {{ source('identity', 'pseudonym_key') }} as pseudonym_key)
                || convert_to({{ expression }}, 'UTF8')
            )
        ),
        'hex'
    )
{%- endmacro %}


{#- An E.164 phone with only the country code, the leading block of the national number
    and the last two digits kept:
        +821012345678 -> +82 10-****-**78     (KR mobile)
        +8221234567   -> +82 2-***-**67       (Seoul landline: area code 2)
        +823112345678 -> +82 31-****-**78     (other KR numbers: two-digit prefix)
        +14155550100  -> +*********00         (other countries: only the last two kept,
                                               the country code length is not known)
    Two digits, not four: a mask that shows all but four digits narrows a number to
    10^4 candidates, few enough to try against anything that identifies it. Null stays
    null. -#}
{% macro mask_phone(expression) -%}
    {%- set kr_national -%}substr({{ expression }}, 4){%- endset -%}
    {%- set kr_prefix_length -%}case when {{ kr_national }} like '2%' then 1 else 2 end{%- endset -%}
    case
        when {{ expression }} like '+82%' and length({{ kr_national }}) > 4 + ({{ kr_prefix_length }})
            then '+82 '
                || left({{ kr_national }}, {{ kr_prefix_length }})
                || '-'
                || repeat('*', length({{ kr_national }}) - 4 - ({{ kr_prefix_length }}))
                || '-**'
                || right({{ kr_national }}, 2)
        when {{ expression }} is not null
            then '+' || repeat('*', greatest(length({{ expression }}) - 3, 0)) || right({{ expression }}, 2)
    end
{%- endmacro %}


{#- A name with only the first character of each word kept: 김소연 -> 김**,
    Thomas Anderson -> T***** A*******. Null stays null. -#}
{% macro mask_name(expression) -%}
    regexp_replace({{ expression }}, '(?<=\S)\S', '*', 'g')
{%- endmacro %}
