{#- Generic test: fails for every row of `model` where `expression` is not true
    (dbt_utils.expression_is_true without the package). -#}
{% test identity_expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}


{#- Generic test: fails for every row whose `column_name` value appears in `field` of
    relation `to` (the inverse of `relationships`), e.g. a live customer id that is also
    recorded as absorbed by a merge. -#}
{% test identity_values_not_in(model, column_name, to, field) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} in (
        select {{ field }} from {{ to }} where {{ field }} is not null
    )
{% endtest %}
