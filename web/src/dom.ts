// A small element builder and the formatting rules every page shares.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.className = String(v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function money(v: number | null | undefined, currency = "USD"): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
}

export function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(v);
}

/** "2026-09-01 14:05:09 UTC" from an RFC 3339 time; the lake is in UTC, so the page is too. */
export function utc(t: string | null | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, "") + " UTC";
}

export function statusLabel(s: string): string {
  return s === "approved" ? "Approved template" : s === "not_approved" ? "Not approved" : s === "no_template" ? "No template" : s === "unattributed" ? "Unattributed" : s;
}

export function badge(s: string): HTMLElement {
  return h("span", { class: "badge " + s }, statusLabel(s));
}

export function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h("div", { class: "error", role: "alert" }, msg);
}

/** Last segment of an ARN, which is what people recognise: "role/Admin/alice" → "Admin/alice". */
export function shortArn(arn: string): string {
  if (!arn || !arn.startsWith("arn:")) return arn || "—";
  const res = arn.split(":").slice(5).join(":");
  const parts = res.split("/");
  return parts.length > 1 ? parts.slice(1).join("/") : res;
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
