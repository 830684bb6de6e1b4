// Typed access to the auditlake JSON API (docs/api.md). Every failure becomes an ApiError whose
// message is fit to show to the user.

export interface Column { name: string; type: string }
export interface Store {
  id: string; name: string; type: string; retention_days: number; events: number; bytes: number;
  first_event: string | null; last_event: string | null;
}
export interface Table { schema: string; name: string; kind: "eds" | "cost"; columns: Column[] }
export interface QueryResult {
  columns: Column[]; rows: unknown[][]; row_count: number; truncated: boolean; max_rows: number; elapsed_ms: number;
}
export type Status = "approved" | "not_approved" | "no_template";
export interface ComplianceRow {
  instance_id: string; account_id: string; region: string; launched_at: string | null; launched_by: string;
  role_arn: string; source_identity: string; launcher: string; auto_scaling_group: string; template_id: string; template_name: string;
  template_version: string; status: Status; reason: string; terminated_at: string | null; runtime_hours: number;
  unblended_cost: number; effective_cost: number;
}
export interface ComplianceReport {
  currency: string; rows: ComplianceRow[];
  summary: { instances: number; approved: number; not_approved: number; no_template: number; unblended_cost: number; effective_cost: number; not_approved_cost: number };
}
export interface DailySpend { currency: string; rows: { day: string; status: Status | "unattributed"; unblended_cost: number; effective_cost: number }[] }
export interface InstanceEvent { time: string; event_name: string; event_source: string; actor: string; kind: string; detail: string }
export interface InstanceReport {
  instance_id: string; summary: ComplianceRow; events: InstanceEvent[];
  daily_cost: { day: string; unblended_cost: number; effective_cost: number }[];
  cost_table?: string;
  currency?: string;
}
export interface Widget {
  id: string; title: string; kind: string; sql: string; columns: Column[]; rows: unknown[][]; truncated: boolean; error?: string;
}
export interface Activity { store: Store; from: string; to: string; bucket: string; widgets: Widget[] }

export interface Session { principal: string; user?: string; admin: boolean; access_key_id: string; door: string; csrf_token?: string }
export interface SourceStatus {
  name: string; type: string; store?: string; store_id?: string; table?: string; uri?: string; sqs_queue_url?: string;
  paused?: boolean; status: string; last_run?: string; last_file?: string; events_added: number; files_added: number;
  caught_up?: string; lag_ns: number; last_error?: string; problems?: string[];
}
export interface StoreFreshness {
  id: string; name: string; type: string; rows: number; files: number; newest_event?: string; lag_seconds: number; error?: string;
}
export interface SourcesOverview { sources: SourceStatus[]; stores: StoreFreshness[] }

export interface Alert {
  id: string; event_time: string; rule: string; title: string; severity: string; store: string; principal: string;
  account: string; region: string; summary: string; count: number; status: string; event_ids: string[]; alerted_at: string | null;
}
export interface AlertTarget {
  name: string; kind: string; destination: string; last_success?: string | null; last_error?: string | null;
  last_error_at?: string | null; consecutive_failures?: number; queued?: number;
}
export interface HuntMatch {
  rule: string; title: string; severity: string; event_time: string | null; event_id: string; event_name: string;
  principal: string; account: string; region: string; source_ip: string; summary: string;
}
export interface HuntResult {
  store: string; rules: string[]; matches: HuntMatch[]; failed: { rule: string; error: string }[];
  files_read: number; files_total: number; elapsed_ms: number; truncated?: boolean; max_matches?: number;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

// The session's CSRF token, sent in X-CSRF-Token with every request that changes state: the
// server refuses a cookie-borne POST without it.
let csrfToken = "";

/** Called with every 401 from a call other than the login itself: the session ended. */
export let onUnauthenticated: () => void = () => {};
export function setOnUnauthenticated(fn: () => void): void { onUnauthenticated = fn; }

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let resp: Response;
  const method = (init?.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (init?.body) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  try {
    resp = await fetch(path, { ...init, headers, credentials: "same-origin" });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the auditlake server. Is it still running?");
  }
  let body: any = null;
  try { body = await resp.json(); } catch { /* not JSON */ }
  if (resp.status === 401 && path !== "api/login" && path !== "api/session") onUnauthenticated();
  if (!resp.ok) {
    const msg = body?.error?.message ?? `The server answered ${resp.status} ${resp.statusText}.`;
    throw new ApiError(resp.status, body?.error?.code ?? "http", msg);
  }
  return body as T;
}

export function qs(params: Record<string, string | string[] | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) if (item) u.append(k, item);
  }
  const s = u.toString();
  return s ? "?" + s : "";
}

export const api = {
  session: () => call<Session>("api/session").then((s) => { csrfToken = s.csrf_token ?? ""; return s; }),
  login: (accessKeyId: string, secretAccessKey: string) =>
    call<Session>("api/login", { method: "POST", body: JSON.stringify({ access_key_id: accessKeyId, secret_access_key: secretAccessKey }) })
      .then((s) => { csrfToken = s.csrf_token ?? ""; return s; }),
  logout: () => call<void>("api/logout", { method: "POST", body: "{}" }).finally(() => { csrfToken = ""; }),
  stores: () => call<{ stores: Store[] }>("api/stores").then((r) => r.stores),
  tables: () => call<{ tables: Table[] }>("api/tables").then((r) => r.tables),
  query: (sql: string, maxRows: number, signal?: AbortSignal) =>
    call<QueryResult>("api/query", { method: "POST", body: JSON.stringify({ sql, max_rows: maxRows }), signal }),
  compliance: (p: Record<string, string | string[] | undefined>) => call<ComplianceReport>("api/reports/launch-compliance" + qs(p)),
  dailySpend: (p: Record<string, string | string[] | undefined>) => call<DailySpend>("api/reports/daily-spend" + qs(p)),
  instance: (id: string, p: Record<string, string | undefined>) => call<InstanceReport>("api/instances/" + encodeURIComponent(id) + qs(p)),
  activity: (p: Record<string, string | undefined>) => call<Activity>("api/dashboards/activity" + qs(p)),
  sources: () => call<SourcesOverview>("api/sources"),
  alerts: (p: Record<string, string | undefined>) => call<{ alerts: Alert[]; limit: number }>("api/alerts" + qs(p)),
  alertTargets: () => call<AlertTarget[] | { targets: AlertTarget[] }>("api/alert-targets")
    .then((r) => (Array.isArray(r) ? r : r?.targets ?? [])),
  hunt: (req: { store: string; rules: string; from?: string; to?: string }, signal?: AbortSignal) =>
    call<HuntResult>("api/hunt", { method: "POST", body: JSON.stringify(req), signal }),
};
