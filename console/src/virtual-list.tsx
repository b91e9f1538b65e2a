// A list that renders only the rows in view (fixed row height), so 1,000 devices or more scroll
// and update as fast as twenty.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

interface Props<T> {
  items: T[];
  rowHeight: number;
  keyOf(item: T): string;
  row(item: T, index: number): ComponentChildren;
  label: string;
}

const OVERSCAN = 8;

export function VirtualList<T>({ items, rowHeight, keyOf, row, label }: Props<T>) {
  const viewport = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const element = viewport.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);
  return (
    <div class="viewport" ref={viewport} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} role="list" aria-label={label} aria-rowcount={items.length}>
      <div style={{ height: `${items.length * rowHeight}px`, position: 'relative' }}>
        {items.slice(first, last).map((item, i) => (
          <div key={keyOf(item)} role="listitem" class="vrow" style={{ top: `${(first + i) * rowHeight}px`, height: `${rowHeight}px` }}>
            {row(item, first + i)}
          </div>
        ))}
      </div>
    </div>
  );
}
