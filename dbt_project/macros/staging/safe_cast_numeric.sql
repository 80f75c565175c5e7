{#- Text (typically a value extracted from jsonb) to numeric/bigint, null when it is
    not a plain decimal number: one malformed nested value must not fail the view. -#}
{% macro safe_to_numeric(expression) -%}
    case
        when trim({{ expression }}) ~ '^[+-]?[0-9]+(\.[0-9]+)?$'
            then cast(trim({{ expression }}) as numeric)
    end
{%- endmacro %}

{% macro safe_to_bigint(expression) -%}
    case
        when trim({{ expression }}) ~ '^[+-]?[0-9]{1,18}$'
            then cast(trim({{ expression }}) as {{ dbt.type_bigint() }})
    end
{%- endmacro %}
