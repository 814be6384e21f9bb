import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** Test counts from JUnit XML. `total` counts testcases; each lands in exactly one other bucket. */
export interface JUnitCounts {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  total: number;
}

export type JUnitResult = { ok: true; counts: JUnitCounts } | { ok: false; message: string };

type Node = Record<string, unknown>;

// Elements that may repeat; forcing arrays spares a one-or-many check at every level.
const REPEATED = new Set(['testsuites', 'testsuite', 'testcase', 'failure', 'error', 'skipped']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  isArray: (name, _path, _leaf, isAttribute) => !isAttribute && REPEATED.has(name),
  // Reports do not need entities beyond XML's own; leaving them off keeps entity expansion out.
  processEntities: false,
});

/**
 * Counts testcases in a JUnit report (Ant/Surefire shape, or the looser ones pytest, jest-junit
 * and go-junit-report write): `<testsuites>` or `<testsuite>` at the root, suites nested to any
 * depth; a testcase with `<failure>` is failed, else with `<error>` an error, else with
 * `<skipped>` skipped, else passed. A report with suites but no testcase elements falls back
 * to the suites' `tests`/`failures`/`errors`/`skipped` attributes. Never throws.
 */
export function parseJUnit(xml: string): JUnitResult {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return { ok: false, message: `not well-formed XML (line ${valid.err.line}): ${valid.err.msg}` };
  const doc = parser.parse(xml) as Node;
  const roots = [...asNodes(doc.testsuites), ...asNodes(doc.testsuite)];
  if (roots.length === 0) return { ok: false, message: 'no <testsuites> or <testsuite> root element' };
  const counts: JUnitCounts = { passed: 0, failed: 0, skipped: 0, errors: 0, total: 0 };
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    stack.push(...asNodes(node.testsuite));
    for (const tc of asNodes(node.testcase)) {
      counts.total++;
      if (has(tc.failure)) counts.failed++;
      else if (has(tc.error)) counts.errors++;
      else if (has(tc.skipped)) counts.skipped++;
      else counts.passed++;
    }
  }
  if (counts.total === 0) {
    // The <testsuites> totals when it has them, else the sum of the suites right below the root.
    const totals = asNodes(doc.testsuites).filter((n) => n['@_tests'] !== undefined);
    const suites = [...asNodes(doc.testsuite), ...asNodes(doc.testsuites).flatMap((n) => asNodes(n.testsuite))];
    return { ok: true, counts: fromAttributes(totals.length > 0 ? totals : suites) };
  }
  return { ok: true, counts };
}

/** Sums JUnit counts (several report files in one directory). */
export function addCounts(a: JUnitCounts, b: JUnitCounts): JUnitCounts {
  return {
    passed: a.passed + b.passed,
    failed: a.failed + b.failed,
    skipped: a.skipped + b.skipped,
    errors: a.errors + b.errors,
    total: a.total + b.total,
  };
}

function fromAttributes(nodes: Node[]): JUnitCounts {
  const n = (node: Node, key: string) => Number(node[`@_${key}`] ?? 0) || 0;
  let tests = 0;
  let failed = 0;
  let errors = 0;
  let skipped = 0;
  for (const node of nodes) {
    tests += n(node, 'tests');
    failed += n(node, 'failures');
    errors += n(node, 'errors');
    skipped += n(node, 'skipped') || n(node, 'disabled');
  }
  return { passed: Math.max(0, tests - failed - errors - skipped), failed, skipped, errors, total: tests };
}

// `<testcase/>` parses to '' and attribute-only elements to objects: both are nodes.
function asNodes(v: unknown): Node[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (typeof x === 'object' && x !== null ? (x as Node) : {}));
}

function has(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0;
}
