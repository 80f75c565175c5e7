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

    loaded_since_last_run(column='_loaded_at')
        SQL condition: the row's load (its `_loaded_at`, one value per load transaction)
        is newer than the largest `_loaded_at` in {{ this }} (W), or it lies in the
        lookback below W and no row of {{ this }} carries it: a load that committed late,
        after the model last ran. A load the model already holds is not read again, so a
        night does not redo the previous night (the lookback lies right below W, i.e.
        over the previous night's loads). The loads present in the window come from a
        skip scan of {{ this }}'s `_loaded_at` index (one probe per load). A load whose
        rows all lost to newer versions is re-read while inside the window: idempotent.

    committed_since_last_run(load_id_column, source_name)
        SQL condition for rows of another model's source, whose loads {{ this }} does not
        carry: the row's load (ops.load_manifest) of `source_name` finished, plus a
        minute's margin for its commit, after this model's last run started (max
        `_changed_at` of {{ this }}, the run_started_at of the run that wrote it).

    incremental_filter(column='_loaded_at')
        `where <loaded_since_last_run>` (or, for `_changed_at`, `where _changed_at > W`)
        in an incremental run, nothing in a full one. Use it on the import CTE of the
        model's driving relation.
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


{% macro loaded_since_last_run(column='_loaded_at') -%}
    {%- set hours = incremental_lookback_hours() -%}
    {%- set exact -%}
    (select coalesce(max(watermark_rows._loaded_at), cast('-infinity' as timestamptz))
     from {{ this }} as watermark_rows)
    {%- endset -%}
    (
        {{ column }} > {{ exact }} - interval '{{ hours }} hours'
        and (
            {{ column }} > {{ exact }}
            or {{ column }} not in (
                with recursive present_loads as (
                    select min(present_rows._loaded_at) as loaded_at
                    from {{ this }} as present_rows
                    where present_rows._loaded_at > {{ exact }} - interval '{{ hours }} hours'
                    union all
                    select (
                        select min(present_rows._loaded_at)
                        from {{ this }} as present_rows
                        where present_rows._loaded_at > present_loads.loaded_at
                    )
                    from present_loads
                    where present_loads.loaded_at is not null
                )
                select present_loads.loaded_at
                from present_loads
                where present_loads.loaded_at is not null
            )
        )
    )
{%- endmacro %}


{% macro committed_since_last_run(load_id_column, source_name) -%}
    {{ load_id_column }} in (
        select load_manifest.load_id
        from ops.load_manifest as load_manifest
        where load_manifest.source = '{{ source_name }}'
            and load_manifest.loaded_at
                + (coalesce(load_manifest.duration_ms, 86400000) + 60000) * interval '1 millisecond'
                > (
                    select coalesce(max(last_run_rows._changed_at), cast('-infinity' as timestamptz))
                    from {{ this }} as last_run_rows
                )
    )
{%- endmacro %}


{% macro incremental_filter(column='_loaded_at') -%}
    {%- if is_incremental() %}
    {%- if column == '_changed_at' %}
    where {{ column }} > {{ incremental_watermark(column) }}
    {%- else %}
    where {{ loaded_since_last_run(column) }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}
