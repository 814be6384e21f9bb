// Plain column-aligned tables for list commands.

/** Optional styling; applied after widths are measured, so colour codes do not skew alignment. */
export interface TableStyle {
  header?: (text: string) => string;
  /** Styles one body cell (column index `col`). */
  cell?: (text: string, col: number) => string;
}

/**
 * Renders `rows` under `headers` with columns padded to the widest cell and
 * two spaces between them; the last column is not padded and trailing spaces
 * are dropped. Every line ends with "\n".
 */
export function renderTable(headers: string[], rows: string[][], style: TableStyle = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], paint: (text: string, col: number) => string) => {
    let out = "";
    cells.forEach((cell, i) => {
      const last = i === cells.length - 1;
      const padding = last ? "" : " ".repeat(Math.max(0, (widths[i] ?? 0) - cell.length) + 2);
      out += paint(cell, i) + padding;
    });
    return out.trimEnd();
  };
  const header = style.header ?? ((s: string) => s);
  const cell = style.cell ?? ((s: string) => s);
  return [line(headers, header), ...rows.map((r) => line(r, cell))].map((l) => `${l}\n`).join("");
}
