/** The Dockyard Grafana dashboards, as typed values (build-dashboards.ts writes them as JSON). */
import type { Dashboard } from '@grafana/schema';
import { farmDashboard } from './farm.js';
import { releasesDashboard } from './releases.js';
import { syntheticDashboard } from './synthetic.js';

/** File name (without .json) → dashboard. File names and uids are stable: provisioning and links use them. */
export const dashboards: Record<string, Dashboard> = {
  farm: farmDashboard,
  releases: releasesDashboard,
  synthetic: syntheticDashboard,
};

// The types the dashboards are written in, for code that reads them (the tests' linter).
export type { Dashboard, Panel, RowPanel } from '@grafana/schema';
export { dashboard, labelVariable, type PanelSpec } from './common.js';
