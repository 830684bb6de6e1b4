// The stores and cost tables, fetched once per page load and shared by the pages' pickers.
import { api, type Store, type Table } from "./api";

let cache: Promise<{ stores: Store[]; tables: Table[] }> | null = null;

export function sources(): Promise<{ stores: Store[]; tables: Table[] }> {
  if (!cache) {
    cache = Promise.all([api.stores(), api.tables()]).then(([stores, tables]) => ({ stores, tables }));
    cache.catch(() => { cache = null; });
  }
  return cache;
}

export function costTables(tables: Table[]): Table[] {
  return tables.filter((t) => t.kind === "cost");
}

export function tableRef(t: Table): string {
  return `${t.schema}.${t.name}`;
}
