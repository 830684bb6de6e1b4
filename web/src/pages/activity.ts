// Activity: CloudTrail Lake managed-dashboard style widgets over one event data store.
import { api, type Widget } from "../api";
import { colors, draw } from "../charts";
import { errorBox, h, num, shortArn } from "../dom";
import { go, link, type IsCurrent } from "../nav";
import { sources } from "../sources";

export async function renderActivity(root: HTMLElement, params: URLSearchParams, isCurrent: IsCurrent): Promise<void> {
  root.append(h("h1", {}, "Activity"), h("p", { class: "sub" }, "Who did what, where and with which errors, in one event data store."));
  const { stores } = await sources();
  if (!isCurrent()) return;
  if (stores.length === 0) {
    root.append(h("div", { class: "panel empty" }, "No event data stores yet. Create one with: auditlake eds create"));
    return;
  }
  const store = params.get("store") || stores[0].id;
  const storeSel = h("select", { name: "store" }, stores.map((s) => h("option", { value: s.id, selected: s.id === store }, s.name || s.id))) as HTMLSelectElement;
  const from = h("input", { type: "date", name: "from", value: params.get("from") || "" }) as HTMLInputElement;
  const to = h("input", { type: "date", name: "to", value: params.get("to") || "" }) as HTMLInputElement;
  const rangeNote = h("span", { class: "hint" });
  root.append(h("form", { class: "filters panel", onsubmit: ((e: Event) => {
    e.preventDefault();
    go("activity", { store: storeSel.value, from: from.value, to: to.value });
  }) as EventListener },
    h("label", {}, "Event data store", storeSel), h("label", {}, "From (UTC)", from), h("label", {}, "To (UTC, inclusive)", to),
    h("button", { type: "submit" }, "Apply"), rangeNote));
  const body = h("div", {}, h("div", { class: "loading" }, "Running the dashboard queries…"));
  root.append(body);
  let act;
  try {
    act = await api.activity({ store, from: params.get("from") || undefined, to: params.get("to") || undefined });
  } catch (e) {
    if (isCurrent()) body.replaceChildren(errorBox(e));
    return;
  }
  if (!isCurrent()) return;
  rangeNote.textContent = `${act.from.slice(0, 10)} to ${new Date(Date.parse(act.to) - 1).toISOString().slice(0, 10)}, by ${act.bucket}`;
  const byId = new Map(act.widgets.map((w) => [w.id, w]));
  const kpis = h("div", { class: "kpis" });
  const sum = byId.get("summary");
  if (sum && !sum.error && sum.rows[0]) {
    sum.columns.forEach((c, i) => kpis.append(h("div", { class: "kpi" }, h("div", { class: "label" }, label(c.name)), h("div", { class: "value" }, num(Number(sum.rows[0][i]))))));
  }
  const overTime = panel(byId.get("events_over_time"), "chart", act.bucket);
  const grid = h("div", { class: "grid2" });
  for (const id of ["top_services", "top_events", "top_users", "top_errors", "top_regions", "top_source_ips", "console_signins"]) {
    const w = byId.get(id);
    if (w) grid.append(panel(w, id === "console_signins" ? "table" : "bars", act.bucket));
  }
  body.replaceChildren(kpis, overTime, grid);
}

function label(col: string): string {
  return col.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function panel(w: Widget | undefined, as: "chart" | "bars" | "table", bucket: string): HTMLElement {
  if (!w) return h("div");
  const p = h("section", { class: "panel", "data-widget": w.id },
    h("div", { class: "panel-head" }, h("h2", {}, w.title),
      h("a", { class: "hint", href: link("sql", { q: w.sql }), title: "Open this widget's query in the SQL editor" }, "Open in SQL")));
  if (w.error) { p.append(errorBox(w.error)); return p; }
  if (w.rows.length === 0) { p.append(h("div", { class: "empty" }, "No events.")); return p; }
  if (as === "table") {
    p.append(h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, w.columns.map((c, i) => h("th", { class: i === w.columns.length - 1 ? "num" : "" }, label(c.name))))),
      h("tbody", {}, w.rows.map((r) => h("tr", {}, r.map((v, i) => h("td", { class: i === r.length - 1 ? "num" : "" }, i === r.length - 1 ? num(Number(v)) : signinLabel(String(v))))))))));
    return p;
  }
  const el = h("div", { class: as === "chart" ? "chart" : "chart small" });
  p.append(el);
  requestAnimationFrame(() => {
    if (as === "chart") {
      draw(el, {
        tooltip: { trigger: "axis" },
        legend: { top: 0, right: 0 },
        grid: { left: 8, right: 16, top: 48, bottom: 8, containLabel: true },
        xAxis: { type: "time" },
        yAxis: { type: "value", name: `Events per ${bucket}`, nameLocation: "end", nameGap: 12, nameTextStyle: { align: "left", color: "#5d6b7c" }, minInterval: 1 },
        series: w.columns.slice(1).map((c, i) => ({
          name: label(c.name), type: i === 0 ? "bar" : "line", barMaxWidth: 24, symbolSize: 4,
          itemStyle: { color: i === 0 ? colors.accent : colors.not_approved },
          data: w.rows.map((r) => [r[0], Number(r[i + 1])]),
        })),
      });
    } else {
      const rows = [...w.rows].reverse();
      draw(el, {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 8, right: 40, top: 4, bottom: 4, containLabel: true },
        xAxis: { type: "value", show: false },
        yAxis: { type: "category", data: rows.map((r) => barLabel(r[0])), axisTick: { show: false } },
        series: [{ type: "bar", name: "Events", data: rows.map((r) => Number(r[1])), barMaxWidth: 18,
          itemStyle: { color: w.id === "top_errors" ? colors.not_approved : colors.accent }, label: { show: true, position: "right" } }],
      });
    }
  });
  return p;
}

function signinLabel(v: string): string {
  return ({ success: "Success", failure: "Failure", mfa: "With MFA", no_mfa: "Without MFA" } as Record<string, string>)[v] ?? v;
}

/** A bar's label: ARNs keep their account (roles of the same name in several accounts must not
 * read alike) and lose their arn:aws:…: prefix; long text keeps its end. */
function barLabel(v: unknown): string {
  const s = String(v ?? "(none)");
  const a = s.split(":");
  if (s.startsWith("arn:") && a.length > 5 && /^\d{12}$/.test(a[4])) return truncate(shortArn(s), 24) + " · " + a[4];
  return truncate(s, 38);
}

function truncate(s: string, n: number): string {
  return s.length > n ? "…" + s.slice(s.length - n + 1) : s;
}
