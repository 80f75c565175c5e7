{#- PII masking for the marts (customer_360 exposes no raw email, phone or name). -#}

{#- Lower-case hex SHA-256 of a text value (UTF-8 bytes): the normalised email hashed
    this way matches what ad platforms' customer-match uploads expect. PostgreSQL. -#}
{% macro sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}


{#- An E.164 phone with everything but the country code, the leading block of the
    national number and the last four digits masked:
        +821012345678 -> +82 10-****-5678     (KR mobile)
        +8221234567   -> +82 2-***-4567       (Seoul landline: area code 2)
        +823112345678 -> +82 31-****-5678     (other KR numbers: two-digit prefix)
        +14155550100  -> +*******0100         (other countries: only the last four kept,
                                               the country code length is not known)
    Null stays null. -#}
{% macro mask_phone(expression) -%}
    {%- set kr_national -%}substr({{ expression }}, 4){%- endset -%}
    {%- set kr_prefix_length -%}case when {{ kr_national }} like '2%' then 1 else 2 end{%- endset -%}
    case
        when {{ expression }} like '+82%' and length({{ kr_national }}) > 4 + ({{ kr_prefix_length }})
            then '+82 '
                || left({{ kr_national }}, {{ kr_prefix_length }})
                || '-'
                || repeat('*', length({{ kr_national }}) - 4 - ({{ kr_prefix_length }}))
                || '-'
                || right({{ kr_national }}, 4)
        when {{ expression }} is not null
            then '+' || repeat('*', greatest(length({{ expression }}) - 5, 0)) || right({{ expression }}, 4)
    end
{%- endmacro %}


{#- A name with only the first character of each word kept: 김소연 -> 김**,
    Thomas Anderson -> T***** A*******. Null stays null. -#}
{% macro mask_name(expression) -%}
    regexp_replace({{ expression }}, '(?<=\S)\S', '*', 'g')
{%- endmacro %}
