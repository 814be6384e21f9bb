import type { Problem } from './types.js';

/** Decoded input or the reason it was refused. */
export type DecodeResult = { ok: true; text: string } | { ok: false; problem: Problem };

/**
 * Refuses oversized input before any decoding or parsing, then decodes bytes as strict UTF-8.
 * O(n) and allocation-light, so a 10 MB file is rejected in microseconds.
 */
export function decodeInput(input: string | Uint8Array, maxBytes: number): DecodeResult {
  if (typeof input === 'string') {
    // Every UTF-16 code unit needs at least one UTF-8 byte, so length is a cheap lower bound.
    const bytes = input.length > maxBytes ? input.length : Buffer.byteLength(input, 'utf8');
    if (bytes > maxBytes) return { ok: false, problem: tooLarge(bytes, maxBytes, input.length > maxBytes) };
    return { ok: true, text: input };
  }
  if (input.byteLength > maxBytes) return { ok: false, problem: tooLarge(input.byteLength, maxBytes, false) };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(input) };
  } catch {
    const offset = Math.max(0, firstInvalidUtf8(input));
    let lineStart = 0;
    let line = 1;
    for (let i = 0; i < offset; i++) {
      if (input[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const column = new TextDecoder().decode(input.subarray(lineStart, offset)).length + 1;
    const byte = (input[offset] ?? 0).toString(16).padStart(2, '0');
    return {
      ok: false,
      problem: { path: '', line, column, message: `file is not valid UTF-8 (byte 0x${byte} at offset ${offset})` },
    };
  }
}

function tooLarge(bytes: number, maxBytes: number, atLeast: boolean): Problem {
  return {
    path: '',
    line: 1,
    column: 1,
    message: `file is ${atLeast ? 'at least ' : ''}${bytes} bytes; the limit is ${maxBytes} bytes`,
  };
}

/** Byte offset of the first invalid UTF-8 sequence, or -1 (RFC 3629: no overlongs, no surrogates). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    const c1 = b[i + 1];
    if (c1 === undefined || c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) {
      const ck = b[i + k];
      if (ck === undefined || ck < 0x80 || ck > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Where the text first exceeds a structural limit. */
export interface StructureExcess {
  kind: 'depth' | 'keys' | 'items';
  line: number;
  column: number;
}

const isBlank = (ch: string | undefined): boolean =>
  ch === undefined || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';

/**
 * A cheap single pass that estimates collection nesting (block indentation levels, `- `/`? `
 * indicators and flow `[`/`{`) and counts `key:` indicators WITHOUT building a tree, so
 * pathological input such as 10,000 `[` never reaches yaml's recursive composer and key floods
 * never reach its parser. It may over-estimate depth for odd but valid files (multi-line plain
 * scalars), never by enough to matter below the 64 limit in practice; the key count is checked
 * again exactly on the parsed tree.
 */
export function scanStructure(
  text: string,
  limits: { maxDepth: number; maxKeys: number; maxItems: number },
): StructureExcess | null {
  const indents: number[] = [];
  let flow = 0;
  let quote = '';
  let nodeStart = true;
  let blockScalarParent = -1;
  let line = 0;
  let lineStart = 0;
  let keys = 0;
  let items = 0;
  const excess = (kind: StructureExcess['kind'], at: number): StructureExcess => ({
    kind,
    line,
    column: at - lineStart + 1,
  });
  while (lineStart <= text.length) {
    line++;
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    let i = lineStart;
    if (quote === '' && flow === 0) {
      while (text[i] === ' ') i++;
      const indent = i - lineStart;
      const first = text[i];
      const blank = i >= lineEnd || first === '#' || first === '\r';
      if (blockScalarParent >= 0 && (blank || indent > blockScalarParent)) {
        lineStart = lineEnd + 1;
        continue;
      }
      blockScalarParent = -1;
      if (blank) {
        lineStart = lineEnd + 1;
        continue;
      }
      if (indent === 0 && (text.startsWith('---', i) || text.startsWith('...', i)) && isBlank(text[i + 3])) {
        indents.length = 0;
        i += 3;
      }
      while (indents.length > 0 && (indents.at(-1) ?? 0) > indent) indents.pop();
      if (indents.length === 0 || (indents.at(-1) ?? 0) < indent) indents.push(indent);
      if (indents.length > limits.maxDepth) return excess('depth', i);
      nodeStart = true;
    }
    for (; i < lineEnd; i++) {
      const ch = text[i];
      if (quote === '"') {
        if (ch === '\\') i++;
        else if (ch === '"') quote = '';
        continue;
      }
      if (quote === "'") {
        if (ch === "'" && text[i + 1] === "'") i++;
        else if (ch === "'") quote = '';
        continue;
      }
      if (ch === ' ' || ch === '\t' || ch === '\r') continue;
      if (ch === '#' && (i === lineStart || isBlank(text[i - 1]))) break;
      if (ch === '[' || ch === '{') {
        if (nodeStart || flow > 0) {
          flow++;
          nodeStart = true;
          if (indents.length + flow > limits.maxDepth) return excess('depth', i);
        }
        continue;
      }
      if (nodeStart) {
        if (ch === '"' || ch === "'") {
          quote = ch;
          nodeStart = false;
          continue;
        }
        if ((ch === '-' || ch === '?') && flow === 0 && isBlank(text[i + 1])) {
          indents.push(i - lineStart + 1);
          if (indents.length > limits.maxDepth) return excess('depth', i);
          if (ch === '-' && ++items > limits.maxItems) return excess('items', i);
          continue;
        }
        if (ch === '&' || ch === '!') {
          while (i + 1 < lineEnd && !isBlank(text[i + 1])) i++;
          continue;
        }
        if ((ch === '|' || ch === '>') && flow === 0) {
          blockScalarParent = indents.at(-1) ?? 0;
          break;
        }
        nodeStart = false;
      }
      if (flow > 0) {
        if (ch === ']' || ch === '}') {
          flow--;
          nodeStart = false;
        } else if (ch === ',') {
          nodeStart = true;
          if (++items > limits.maxItems) return excess('items', i);
        } else if (ch === ':' && (isBlank(text[i + 1]) || ',]}'.includes(text[i + 1] ?? ''))) {
          nodeStart = true;
          if (++keys > limits.maxKeys) return excess('keys', i);
        }
      } else if (ch === ':' && isBlank(text[i + 1])) {
        nodeStart = true;
        if (++keys > limits.maxKeys) return excess('keys', i);
      }
    }
    lineStart = lineEnd + 1;
  }
  return null;
}
