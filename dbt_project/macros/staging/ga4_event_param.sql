{#- One value of a GA4 event_params array ([{key, value: {string_value | int_value |
    double_value | float_value}}]).
    value_type: 'string' (string_value, else the number as text), 'int' (bigint from
    int_value, else a numeric string_value), 'double' (numeric from double/float/int). -#}
{% macro ga4_event_param(params_column, key, value_type='string') -%}
    {%- set value -%}
        jsonb_path_query_first({{ params_column }}, '$[*] ? (@.key == "{{ key }}").value')
    {%- endset -%}
    {%- if value_type == 'string' -%}
        nullif(coalesce(
            ({{ value }}) ->> 'string_value',
            ({{ value }}) ->> 'int_value',
            ({{ value }}) ->> 'double_value',
            ({{ value }}) ->> 'float_value'
        ), '')
    {%- elif value_type == 'int' -%}
        {{ safe_to_bigint("coalesce((" ~ value ~ ") ->> 'int_value', (" ~ value ~ ") ->> 'string_value')") }}
    {%- elif value_type == 'double' -%}
        {{ safe_to_numeric("coalesce((" ~ value ~ ") ->> 'double_value', (" ~ value ~ ") ->> 'float_value', (" ~ value ~ ") ->> 'int_value', (" ~ value ~ ") ->> 'string_value')") }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("ga4_event_param: unknown value_type " ~ value_type) }}
    {%- endif -%}
{%- endmacro %}
