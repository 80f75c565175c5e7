{#- md5 over the '-'-joined, null-coalesced text of the given columns (dbt_utils'
    generate_surrogate_key without the package). -#}
{% macro touchpoint_surrogate_key(column_names) -%}
    {%- set parts = [] -%}
    {%- for column_name in column_names -%}
        {%- do parts.append("coalesce(" ~ dbt.safe_cast(column_name, dbt.type_string()) ~ ", '_touchpoint_null_')") -%}
        {%- if not loop.last -%}{%- do parts.append("'-'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
