{#- Custom schemas are used as-is (staging, intermediate, identity, the candidate
    marts schema) rather than prefixed with the target schema: the warehouse layout is
    fixed and documented, and BI reads exactly `marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
