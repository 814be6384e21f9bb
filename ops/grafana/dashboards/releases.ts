/**
 * Releases: what each service runs and how it got there. Revision per service over time,
 * rollbacks by reason, approvals waiting, the notification outbox, alerts the server received.
 * The service gauges and the outbox are read from Postgres (every replica agrees: max());
 * rollbacks and received alerts are counted by the replica that handled them (sum).
 */
import { dashboard, labelVariable, type PanelSpec } from './common.js';

const RI = '$__rate_interval';
const SERVICE = 'service=~"$service"';

const revisions: PanelSpec[] = [
  {
    title: 'Revision per service',
    description: 'The revision each service runs; a step down is a rollback.',
    unit: 'none',
    w: 16,
    queries: [{ expr: `max by (service) (dockyard_service_revision{${SERVICE}})`, legend: '{{service}}' }],
    custom: { lineInterpolation: 'stepAfter' },
    options: { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull'] } },
  },
  {
    title: 'Current revision',
    type: 'stat',
    unit: 'none',
    w: 8,
    queries: [{ expr: `max by (service) (dockyard_service_revision{${SERVICE}})`, legend: '{{service}}' }],
  },
];

const rollbacks: PanelSpec[] = [
  {
    title: 'Rollbacks by service and reason',
    description: 'health, died, lost, timeout, requested or alert.',
    unit: 'short',
    queries: [
      {
        expr: `sum by (service, reason) (increase(dockyard_service_rollbacks_total{${SERVICE}}[${RI}]))`,
        legend: '{{service}} {{reason}}',
      },
    ],
  },
  {
    title: 'Alerts received by name',
    description: 'Alertmanager notifications the server received (a firing alert may roll a service back).',
    unit: 'short',
    queries: [
      {
        expr: `sum by (alertname) (increase(dockyard_alerts_received_total[${RI}]))`,
        legend: '{{alertname}}',
      },
    ],
  },
];

const waiting: PanelSpec[] = [
  {
    title: 'Approvals waiting',
    type: 'stat',
    unit: 'short',
    w: 6,
    queries: [{ expr: 'max(dockyard_approvals_waiting)', legend: 'waiting' }],
  },
  {
    title: 'Approvals waiting over time',
    unit: 'short',
    w: 6,
    queries: [{ expr: 'max(dockyard_approvals_waiting)', legend: 'waiting' }],
  },
  {
    title: 'Outbox depth',
    description: 'Notification deliveries not yet sent.',
    unit: 'short',
    w: 6,
    queries: [{ expr: 'max(dockyard_outbox_depth)', legend: 'pending' }],
  },
  {
    title: 'Failed deliveries',
    description: 'Deliveries that gave up, per interval (read from Postgres, so every replica agrees).',
    unit: 'short',
    w: 6,
    queries: [{ expr: `max(increase(dockyard_notify_failed_deliveries_total[${RI}]))`, legend: 'failed' }],
  },
];

export const releasesDashboard = dashboard({
  uid: 'dockyard-releases',
  title: 'Dockyard / Releases',
  description: 'Revisions per service, rollbacks, approvals waiting, the notification outbox.',
  tags: ['dockyard'],
  variables: [labelVariable('service', 'service', 'dockyard_service_revision', 'Service')],
  rows: [revisions, rollbacks, waiting],
});
