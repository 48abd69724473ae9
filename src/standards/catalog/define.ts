import type { Category, StandardProperty } from '../types.ts';

/** A catalog entry as written in a namespace file: category and status come from the file's defaults. */
export type Entry = Omit<StandardProperty, 'negotiable' | 'category' | 'status'> &
  Partial<Pick<StandardProperty, 'status'>>;

/**
 * Fills in what follows from the file and from the name: by the standards' convention a property is negotiable
 * exactly when its name ends with `?`.
 */
export function defineGroup(category: Category, entries: Entry[]): StandardProperty[] {
  return entries.map((entry) => ({
    ...entry,
    negotiable: entry.key.endsWith('?'),
    category,
    status: entry.status ?? 'standard',
  }));
}
