{#- Shared building blocks of the incremental models (issue 8).

    incremental_lookback_hours()
        The lookback below a model's own watermark (var `incremental_lookback_hours`,
        default 6): rows whose load committed after a later load's rows were already
        read (a late commit) are picked up by the next night. Rows re-read inside the
        window are merged again idempotently on the model's unique key.

    incremental_watermark(column='_loaded_at')
        SQL expression: the largest `column` already in {{ this }} minus the lookback;
        '-infinity' when {{ this }} is empty.

    incremental_filter(column='_loaded_at')
        `where <column> > <watermark>` in an incremental run, nothing in a full one.
        Use it on the import CTE of the model's driving relation.
-#}

{% macro incremental_lookback_hours() -%}
    {{ return(var('incremental_lookback_hours', 6) | int) }}
{%- endmacro %}


{% macro incremental_watermark(column='_loaded_at') -%}
    (
        select coalesce(max({{ column }}), cast('-infinity' as timestamptz))
            - interval '{{ incremental_lookback_hours() }} hours'
        from {{ this }}
    )
{%- endmacro %}


{% macro incremental_filter(column='_loaded_at') -%}
    {%- if is_incremental() %}
    where {{ column }} > {{ incremental_watermark(column) }}
    {%- endif %}
{%- endmacro %}
