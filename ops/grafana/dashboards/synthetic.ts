/**
 * Synthetic tests: the ui-test journeys an agent runs and pushes to the Pushgateway (job
 * dockyard_synthetic, one group per journey and env). Success, durations against the threshold,
 * step timings, web vitals, CLS, checks, recent failures, staleness, and the journey alerts firing.
 * The Pushgateway adds job/instance labels: panels aggregate them away with max by (journey, env).
 */
import { dashboard, labelVariable, type PanelSpec } from './common.js';

const RI = '$__rate_interval';
// `=~".*"` (All) also matches a series without the label: journeys that test a plain URL have no service.
const SEL = 'journey=~"$journey",env=~"$env",service=~"$service"';
const BY = 'max by (journey, env)';

const status: PanelSpec[] = [
  {
    title: 'Journey success',
    description: 'The last run, after its retries: 1 passed, 0 failed.',
    type: 'state-timeline',
    unit: 'bool_yes_no',
    w: 16,
    queries: [{ expr: `${BY} (dockyard_synthetic_journey_success{${SEL}})`, legend: '{{journey}} on {{env}}' }],
  },
  {
    title: 'Failed among the last 3 runs',
    type: 'stat',
    unit: 'short',
    w: 8,
    queries: [
      {
        expr: `${BY} (dockyard_synthetic_journey_recent_failures{${SEL}})`,
        legend: '{{journey}} on {{env}}',
      },
      {
        expr: `${BY} (dockyard_synthetic_journey_recent_runs{${SEL}})`,
        legend: 'runs {{journey}} on {{env}}',
      },
    ],
  },
];

const timings: PanelSpec[] = [
  {
    title: 'Journey duration and threshold',
    unit: 's',
    queries: [
      { expr: `${BY} (dockyard_synthetic_journey_duration_seconds{${SEL}})`, legend: '{{journey}} on {{env}}' },
      {
        expr: `${BY} (dockyard_synthetic_journey_threshold_seconds{${SEL}})`,
        legend: 'threshold {{journey}} on {{env}}',
      },
    ],
  },
  {
    title: 'Step durations',
    unit: 's',
    queries: [
      {
        expr: `max by (journey, env, step) (dockyard_synthetic_step_duration_seconds{${SEL}})`,
        legend: '{{journey}} on {{env}}: {{step}}',
      },
    ],
  },
];

const vitals: PanelSpec[] = [
  {
    title: 'Web vitals (TTFB, FCP, LCP)',
    unit: 's',
    queries: [
      {
        expr: `max by (journey, env, vital) (dockyard_synthetic_web_vital_seconds{${SEL}})`,
        legend: '{{vital}} {{journey}} on {{env}}',
      },
    ],
  },
  {
    title: 'Cumulative layout shift',
    description: 'CLS has no unit; under 0.1 is good, over 0.25 poor.',
    unit: 'none',
    queries: [
      {
        expr: `${BY} (dockyard_synthetic_cumulative_layout_shift{${SEL}})`,
        legend: '{{journey}} on {{env}}',
      },
    ],
  },
];

const checks: PanelSpec[] = [
  {
    title: 'Checks by result',
    description: 'Expectations checked per interval, passed and failed.',
    unit: 'short',
    w: 8,
    queries: [
      {
        expr: `sum by (journey, env, result) (increase(dockyard_synthetic_checks_total{${SEL}}[${RI}]))`,
        legend: '{{result}} {{journey}} on {{env}}',
      },
    ],
  },
  {
    title: 'Since the last run and the last success',
    description: 'A journey is stale when its last run is older than 3 times its expected interval.',
    unit: 's',
    w: 8,
    queries: [
      {
        expr: `time() - ${BY} (dockyard_synthetic_last_run_timestamp_seconds{${SEL}})`,
        legend: 'run {{journey}} on {{env}}',
      },
      {
        expr: `time() - ${BY} (dockyard_synthetic_last_success_timestamp_seconds{${SEL}})`,
        legend: 'success {{journey}} on {{env}}',
      },
      {
        expr: `${BY} (dockyard_synthetic_journey_interval_seconds{${SEL}})`,
        legend: 'expected every {{journey}} on {{env}}',
      },
    ],
  },
  {
    title: 'Journey alerts firing',
    description: 'DockyardJourneyFailing, DockyardJourneySlow and DockyardJourneyStale, by journey and env.',
    type: 'table',
    unit: 'short',
    w: 8,
    queries: [
      {
        expr: `max by (alertname, journey, env, service, revision) (ALERTS{alertname=~"DockyardJourney.*",alertstate="firing",${SEL}})`,
        instant: true,
      },
    ],
  },
];

export const syntheticDashboard = dashboard({
  uid: 'dockyard-synthetic',
  title: 'Dockyard / Synthetic tests',
  description: 'ui-test journeys: success, timings, web vitals, checks, recent failures and alerts.',
  tags: ['dockyard'],
  variables: [
    labelVariable('journey', 'journey', 'dockyard_synthetic_journey_success', 'Journey'),
    labelVariable('env', 'env', 'dockyard_synthetic_journey_success{journey=~"$journey"}', 'Env'),
    labelVariable('service', 'service', 'dockyard_synthetic_journey_success', 'Service'),
  ],
  rows: [status, timings, vitals, checks],
});
