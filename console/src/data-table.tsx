// The console's tables: a scrolling wrapper, the shared look, an accessible name and the column
// heads; the rows are the caller's.

import type { ComponentChildren } from 'preact';

/** A column's head; a wide column takes the room the others leave (descriptions, images). */
export type Column = string | { name: string; wide: true };

export function DataTable({ label, columns, children }: { label: string; columns: Column[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="sketches" aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) =>
              typeof column === 'string' ? (
                <th scope="col" key={column}>
                  {column}
                </th>
              ) : (
                <th scope="col" class="wide" key={column.name}>
                  {column.name}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
