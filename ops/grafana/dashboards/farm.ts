/**
 * Farm overview: is work flowing? Queue, dispatch latency, stage throughput and duration, agents,
 * failures, build cache and leaked resources. Every replica serves the farm gauges (read from
 * Postgres), so gauges take max() across instances; histograms and counters are per replica and
 * are summed.
 */
import { dashboard, type PanelSpec } from './common.js';

const RI = '$__rate_interval';

const dispatchQuantile = (q: number) => ({
  expr: `histogram_quantile(${q}, sum by (le) (rate(dockyard_dispatch_latency_seconds_bucket[${RI}])))`,
  legend: `p${q * 100}`,
});

const queue: PanelSpec[] = [
  {
    title: 'Queue depth',
    description: 'Stages queued and waiting for an agent.',
    type: 'stat',
    unit: 'short',
    w: 6,
    queries: [{ expr: 'max(dockyard_queue_depth)', legend: 'queued' }],
  },
  {
    title: 'Queue depth over time',
    unit: 'short',
    w: 6,
    queries: [{ expr: 'max(dockyard_queue_depth)', legend: 'queued' }],
  },
  {
    title: 'Dispatch latency',
    description: 'Time from a stage being queued to its attempt being dispatched (quantiles of the histogram).',
    unit: 's',
    queries: [dispatchQuantile(0.5), dispatchQuantile(0.9), dispatchQuantile(0.99)],
  },
];

const stages: PanelSpec[] = [
  {
    title: 'Stage throughput by kind and result',
    description: 'Stages finished per second.',
    unit: 'ops',
    queries: [
      {
        expr: `sum by (kind, result) (rate(dockyard_stage_duration_seconds_count[${RI}]))`,
        legend: '{{kind}} {{result}}',
      },
    ],
  },
  {
    title: 'Stage duration by kind (p90) and mean by kind and result',
    unit: 's',
    queries: [
      {
        expr: `histogram_quantile(0.9, sum by (kind, le) (rate(dockyard_stage_duration_seconds_bucket[${RI}])))`,
        legend: 'p90 {{kind}}',
      },
      {
        expr:
          `sum by (kind, result) (rate(dockyard_stage_duration_seconds_sum[${RI}]))` +
          ` / sum by (kind, result) (rate(dockyard_stage_duration_seconds_count[${RI}]))`,
        legend: 'mean {{kind}} {{result}}',
      },
    ],
  },
];

const agents: PanelSpec[] = [
  {
    title: 'Stages by state',
    unit: 'short',
    w: 8,
    queries: [{ expr: 'max by (state) (dockyard_stages)', legend: '{{state}}' }],
  },
  {
    title: 'Agents by state',
    unit: 'short',
    w: 8,
    queries: [{ expr: 'max by (state) (dockyard_agents)', legend: '{{state}}' }],
  },
  {
    title: 'Attempts ended by outcome',
    description: 'Attempts ended per second, by outcome (succeeded, failed, lost, cancelled...).',
    unit: 'ops',
    w: 8,
    queries: [{ expr: `sum by (outcome) (rate(dockyard_attempts_ended_total[${RI}]))`, legend: '{{outcome}}' }],
  },
];

const failures: PanelSpec[] = [
  {
    title: 'Failed attempts by outcome',
    description: 'Attempts that did not succeed, per interval.',
    unit: 'short',
    queries: [
      {
        expr: `sum by (outcome) (increase(dockyard_attempts_ended_total{outcome!="succeeded"}[${RI}]))`,
        legend: '{{outcome}}',
      },
    ],
  },
  {
    title: 'Stages not succeeded by kind and result',
    unit: 'short',
    queries: [
      {
        expr: `sum by (kind, result) (increase(dockyard_stage_duration_seconds_count{result!="succeeded"}[${RI}]))`,
        legend: '{{kind}} {{result}}',
      },
    ],
  },
];

const resources: PanelSpec[] = [
  {
    title: 'Build cache by agent',
    description: "BuildKit cache on each online agent's engine, as last reported.",
    unit: 'bytes',
    w: 8,
    queries: [{ expr: 'max by (agent) (dockyard_build_cache_bytes)', legend: '{{agent}}' }],
  },
  {
    title: 'Leaked environments',
    description: 'Environments past their TTL by over a minute: the agent that holds them failed to remove them.',
    type: 'stat',
    unit: 'short',
    w: 8,
    queries: [{ expr: 'max(dockyard_agent_resources{kind="environment",state="leaked"})', legend: 'leaked' }],
    options: { colorMode: 'background' },
  },
  {
    title: 'Environments and workspaces',
    unit: 'short',
    w: 8,
    queries: [
      { expr: 'max by (state) (dockyard_agent_resources{kind="environment"})', legend: 'environments {{state}}' },
      { expr: 'max by (state) (dockyard_workspaces)', legend: 'workspaces {{state}}' },
    ],
  },
];

export const farmDashboard = dashboard({
  uid: 'dockyard-farm',
  title: 'Dockyard / Farm overview',
  description: 'Queue, dispatch latency, stage throughput and duration, agents, failures, cache, leaks.',
  tags: ['dockyard'],
  variables: [],
  rows: [queue, stages, agents, failures, resources],
});
