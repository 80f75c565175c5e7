{#- Shared building blocks of the incremental models (issue 8).

    incremental_lookback_hours()
        The lookback below a model's own watermark (var `incremental_lookback_hours`,
        default 6): rows whose load committed after a later load's rows were already
        read (a late commit) are picked up by the next night. Rows re-read inside the
        window are merged again idempotently on the model's unique key.

    incremental_watermark(column='_loaded_at')
        SQL expression: the largest `column` already in {{ this }} minus the lookback
        (no lookback for `_changed_at`, which this pipeline writes itself);
        '-infinity' when {{ this }} is empty. The column is qualified so that a table
        built before it had the column fails with "column does not exist" (run once with
        --full-refresh) instead of binding to the outer query.

    incremental_filter(column='_loaded_at')
        `where <column> > <watermark>` in an incremental run, nothing in a full one.
        Use it on the import CTE of the model's driving relation.
-#}

{% macro incremental_lookback_hours() -%}
    {{ return(var('incremental_lookback_hours', 6) | int) }}
{%- endmacro %}


{% macro incremental_watermark(column='_loaded_at') -%}
    {#- _changed_at is written by this same pipeline, one run at a time, in dependency
        order: exact, so no lookback (a lookback would rewrite last night's rows again). -#}
    {%- set hours = 0 if column == '_changed_at' else incremental_lookback_hours() -%}
    (
        select coalesce(max(watermark_rows.{{ column }}), cast('-infinity' as timestamptz))
            - interval '{{ hours }} hours'
        from {{ this }} as watermark_rows
    )
{%- endmacro %}


{% macro incremental_filter(column='_loaded_at') -%}
    {%- if is_incremental() %}
    where {{ column }} > {{ incremental_watermark(column) }}
    {%- endif %}
{%- endmacro %}
