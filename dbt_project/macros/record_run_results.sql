{#- Writes one row per executed node into ops.dbt_results at the end of every dbt
    invocation. The audit stage reads it: every error-severity test of the run must
    have passed and every model must have been built, whichever way the DAG invoked
    dbt (one watcher producer's `dbt build` per group; a retried sensor's own
    `dbt run`/`dbt test`). dbt_command and is_full_refresh say how the node ran. -#}
{% macro record_run_results(results) %}
    {%- if execute and flags.WHICH in ('run', 'test', 'build', 'seed') -%}
        {#- The DAG sets TOUCHPOINT_RUN_ID in the environment (a var would change every
            night and force dbt to re-parse the whole project); a var works by hand. -#}
        {%- set run_key = env_var('TOUCHPOINT_RUN_ID', '') or var('touchpoint_run_id', invocation_id) -%}
        create schema if not exists ops;
        create table if not exists ops.dbt_results (
            run_key text not null,
            invocation_id text not null,
            unique_id text not null,
            resource_type text not null,
            node_name text not null,
            relation_schema text,
            status text not null,
            severity text,
            failures bigint,
            message text,
            execution_seconds numeric,
            recorded_at timestamptz not null default now()
        );
        alter table ops.dbt_results add column if not exists dbt_command text;
        alter table ops.dbt_results add column if not exists is_full_refresh boolean;
        {%- if results | length > 0 %}
        insert into ops.dbt_results
            (run_key, invocation_id, unique_id, resource_type, node_name, relation_schema,
             status, severity, failures, message, execution_seconds, dbt_command,
             is_full_refresh)
        values
        {%- for result in results %}
            (
                '{{ run_key }}',
                '{{ invocation_id }}',
                '{{ result.node.unique_id }}',
                '{{ result.node.resource_type }}',
                '{{ result.node.name }}',
                {{ "'" ~ result.node.schema ~ "'" if result.node.resource_type in ('model', 'seed', 'snapshot') else 'null' }},
                '{{ result.status }}',
                {{ "'" ~ result.node.config.severity ~ "'" if result.node.resource_type in ('test', 'unit_test') else 'null' }},
                {{ result.failures if result.failures is not none else 'null' }},
                {{ "'" ~ (result.message | string | replace("'", "''"))[:2000] ~ "'" if result.message is not none else 'null' }},
                {{ result.execution_time | round(3) }},
                '{{ flags.WHICH }}',
                {{ 'true' if flags.FULL_REFRESH else 'false' }}
            ){{ "," if not loop.last }}
        {%- endfor %};
        {%- endif %}
    {%- endif -%}
{% endmacro %}
