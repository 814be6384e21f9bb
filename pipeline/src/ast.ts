import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';

/** A path into the parsed value, as zod reports it. */
export type ValuePath = readonly PropertyKey[];

type Doc = Document.Parsed;

/** The string a mapping key becomes in `toJS()` (scalars only; other keys are rare and unmatched). */
function keyString(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function deref(doc: Doc, node: unknown): unknown {
  // An alias to a map/seq: follow it once so paths into anchored content still resolve.
  return isAlias(node) ? node.resolve(doc) : node;
}

function start(node: unknown): number | undefined {
  const range = (node as Node | null)?.range;
  return range ? range[0] : undefined;
}

/**
 * Source offset of the node at `path`, or of the deepest existing ancestor when the path does
 * not fully exist (e.g. a missing key). With `atKey`, points at the key of the last segment
 * instead of its value (used for unknown keys and record-key errors).
 */
export function locate(doc: Doc, path: ValuePath, atKey = false): number {
  let node: unknown = doc.contents;
  let offset = start(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    node = deref(doc, node);
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyString(p.key) === String(seg));
      if (!pair) return offset;
      if (last && atKey) return start(pair.key) ?? offset;
      node = pair.value;
      offset = start(node) ?? start(pair.key) ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) return offset;
      offset = start(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

/** Keys of the mapping at `path`, in file order (JS objects reorder integer-like keys). */
export function keyOrder(doc: Doc, path: ValuePath): string[] {
  let node: unknown = doc.contents;
  for (const seg of path) {
    node = deref(doc, node);
    if (!isMap(node)) return [];
    node = node.items.find((p) => keyString(p.key) === String(seg))?.value;
  }
  node = deref(doc, node);
  if (!isMap(node)) return [];
  return node.items.map((p) => keyString(p.key)).filter((k): k is string => k !== undefined);
}

/**
 * Counts mapping keys and sequence items without expanding aliases; returns what overflowed
 * first and where.
 */
export function findSizeOverflow(
  doc: Doc,
  limits: { maxKeys: number; maxItems: number },
): { kind: 'keys' | 'items'; offset: number } | null {
  let keys = 0;
  let items = 0;
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      for (const pair of node.items) {
        if (++keys > limits.maxKeys) return { kind: 'keys', offset: start(pair.key) ?? 0 };
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        if (++items > limits.maxItems) return { kind: 'items', offset: start(item) ?? 0 };
        stack.push(item);
      }
    }
  }
  return null;
}

/**
 * Duplicate scalar keys in every mapping (aliases not followed), in O(keys): yaml's own
 * `uniqueKeys` compares each key with all previous ones, quadratic on a key flood.
 */
export function findDuplicateKeys(doc: Doc): { key: string; path: PropertyKey[]; offset: number }[] {
  const out: { key: string; path: PropertyKey[]; offset: number }[] = [];
  const stack: { node: unknown; path: PropertyKey[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() ?? { node: null, path: [] };
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = keyString(pair.key);
        if (key !== undefined) {
          if (seen.has(key)) out.push({ key, path: [...path, key], offset: start(pair.key) ?? 0 });
          seen.add(key);
        }
        stack.push({ node: pair.value, path: [...path, key ?? '?'] });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i] }));
    }
  }
  return out;
}

/** Offset of the first alias node in the file (where an alias bomb is reported). */
export function firstAliasOffset(doc: Doc): number {
  let found = Number.POSITIVE_INFINITY;
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) found = Math.min(found, start(node) ?? found);
    else if (isMap(node)) for (const p of node.items) stack.push(p.key, p.value);
    else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return Number.isFinite(found) ? found : 0;
}

/**
 * The value path of the innermost node containing `offset` (used to give YAML errors such as
 * duplicate keys a path). Keys resolve to their own path.
 */
export function pathAt(doc: Doc, offset: number): PropertyKey[] {
  const path: PropertyKey[] = [];
  let node: unknown = doc.contents;
  const within = (n: unknown): boolean => {
    const r = (n as Node | null)?.range;
    return !!r && offset >= r[0] && offset < Math.max(r[1], r[0] + 1);
  };
  for (let depth = 0; depth < 256; depth++) {
    if (isMap(node)) {
      const pair: Pair | undefined = node.items.find((p) => within(p.key) || within(p.value));
      const key = pair && keyString(pair.key);
      if (!pair || key === undefined) break;
      path.push(key);
      if (within(pair.key)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex(within);
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else {
      break;
    }
  }
  return path;
}

/**
 * Replaces non-string plain scalars in the mapping at `path` of `js` by their source text, so
 * env values keep their spelling (`1.10` stays "1.10", not "1.1"; `0x1f` stays "0x1f").
 */
export function keepScalarSource(doc: Doc, js: unknown, path: ValuePath): void {
  let target: unknown = js;
  for (const seg of path) target = isPlainObject(target) ? target[String(seg)] : undefined;
  if (!isPlainObject(target)) return;
  let node: unknown = doc.contents;
  for (const seg of path) {
    node = deref(doc, node);
    node = isMap(node) ? node.items.find((p) => keyString(p.key) === String(seg))?.value : undefined;
  }
  node = deref(doc, node);
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const key = keyString(pair.key);
    const value = pair.value;
    if (key === undefined || !isScalar(value) || !Object.hasOwn(target, key)) continue;
    if ((typeof value.value === 'number' || typeof value.value === 'boolean') && typeof value.source === 'string') {
      target[key] = value.source;
    }
  }
}

/** A non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
