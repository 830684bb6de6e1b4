// Compliance: the seed blog's QuickSight view, daily EC2 spend stacked by launch-template
// approval status, and the instances that were not launched from an approved template.
import { api, type ComplianceReport, type DailySpend, type Status } from "../api";
import { colors, draw } from "../charts";
import { badge, errorBox, h, money, num, shortArn, statusLabel, utc } from "../dom";
import { go, link, type IsCurrent } from "../nav";
import { costTables, sources, tableRef } from "../sources";

// The daily-spend report also has "unattributed": EC2 lines of no instance launched in the trail
// (launched before it, volumes, data transfer). It is stacked last so each bar is the day's EC2 spend.
const statuses: (Status | "unattributed")[] = ["approved", "not_approved", "no_template", "unattributed"];

export async function renderCompliance(root: HTMLElement, params: URLSearchParams, isCurrent: IsCurrent): Promise<void> {
  root.append(
    h("h1", {}, "Launch-template compliance"),
    h("p", { class: "sub" }, "Daily EC2 spend by whether each instance was launched from an approved launch template, from CloudTrail events joined with cost and usage data."),
  );
  const { stores, tables } = await sources();
  if (!isCurrent()) return;
  const costs = costTables(tables);
  const p = {
    store: params.get("store") || stores[0]?.id || "",
    cost: params.get("cost") || (costs[0] ? tableRef(costs[0]) : ""),
    from: params.get("from") || "",
    to: params.get("to") || "",
    account: params.get("account") || "",
    approved: params.get("approved") || "",
  };

  const storeSel = h("select", { name: "store" }, stores.map((s) => h("option", { value: s.id, selected: s.id === p.store }, s.name || s.id))) as HTMLSelectElement;
  const costSel = h("select", { name: "cost" }, costs.map((t) => h("option", { value: tableRef(t), selected: tableRef(t) === p.cost }, tableRef(t)))) as HTMLSelectElement;
  const from = h("input", { type: "date", name: "from", value: p.from }) as HTMLInputElement;
  const to = h("input", { type: "date", name: "to", value: p.to }) as HTMLInputElement;
  const account = h("input", { type: "text", name: "account", value: p.account, placeholder: "all accounts", class: "wide", inputmode: "numeric" }) as HTMLInputElement;
  const approved = h("input", { type: "text", name: "approved", value: p.approved, placeholder: "lt-0abc…, lt-0def…", class: "wide" }) as HTMLInputElement;
  const form = h("form", { class: "filters panel", onsubmit: ((e: Event) => {
    e.preventDefault();
    go("compliance", { store: storeSel.value, cost: costSel.value, from: from.value, to: to.value, account: account.value.trim(), approved: approved.value.trim() });
  }) as EventListener },
    h("label", {}, "Event data store", storeSel),
    h("label", {}, "Cost table", costSel),
    h("label", {}, "From (UTC)", from),
    h("label", {}, "To (UTC, inclusive)", to),
    h("label", {}, "Accounts", account),
    h("label", {}, "Approved launch templates", approved),
    h("button", { type: "submit" }, "Apply"),
  );
  const kpis = h("div", { class: "kpis" });
  const chartEl = h("div", { class: "chart", id: "spend-chart", role: "img", "aria-labelledby": "spend-title" });
  const tableBox = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  root.append(form, kpis,
    h("section", { class: "panel" }, h("h2", { id: "spend-title" }, "Daily EC2 spend by launch-template approval"), chartEl),
    h("section", { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", {}, "Instances not launched from an approved template"), h("span", { class: "hint" }, "Select a row for the instance's audit trail and cost")),
      tableBox));

  const q = { store: p.store, cost: p.cost, from: p.from, to: p.to, account: p.account, approved: p.approved };
  let report: ComplianceReport, daily: DailySpend;
  try {
    [report, daily] = await Promise.all([api.compliance(q), api.dailySpend(q)]);
  } catch (e) {
    if (isCurrent()) { chartEl.remove(); tableBox.replaceChildren(errorBox(e)); }
    return;
  }
  if (!isCurrent()) return;
  const cur = report.currency || daily.currency || "USD";
  const s = report.summary;
  kpis.append(
    kpi("Instances", num(s.instances)),
    kpi("Approved", num(s.approved)),
    kpi("Not approved", num(s.not_approved), s.not_approved > 0),
    kpi("No template", num(s.no_template), s.no_template > 0),
    kpi("EC2 cost (unblended)", money(s.unblended_cost, cur)),
    kpi("Not-approved cost", money(s.not_approved_cost, cur), s.not_approved_cost > 0),
  );
  drawSpend(chartEl, daily, cur);

  const bad = report.rows.filter((r) => r.status !== "approved").sort((a, b) => b.unblended_cost - a.unblended_cost);
  if (bad.length === 0) {
    tableBox.replaceChildren(h("div", { class: "empty" }, "Every instance in this range was launched from an approved template."));
    return;
  }
  const rows = bad.map((r) => {
    const href = link("instance", { store: p.store, cost: p.cost }, r.instance_id);
    return h("tr", { class: "clickable", "data-instance": r.instance_id, tabindex: 0,
      onclick: (() => { location.hash = href; }) as EventListener,
      onkeydown: ((e: KeyboardEvent) => { if (e.key === "Enter") location.hash = href; }) as EventListener },
      h("td", { class: "mono" }, h("a", { href }, r.instance_id)),
      h("td", {}, badge(r.status)),
      h("td", { title: r.launched_by }, shortArn(r.launched_by)),
      h("td", {}, r.launcher || "—"),
      h("td", { class: "asg" }, r.auto_scaling_group || "—"),
      h("td", { title: r.reason }, r.template_name || r.template_id ? `${r.template_name || r.template_id}${r.template_version ? " v" + r.template_version : ""}` : "—"),
      h("td", { class: "mono" }, r.account_id),
      h("td", {}, utc(r.launched_at)),
      h("td", { class: "num" }, num(r.runtime_hours, 1)),
      h("td", { class: "num" }, money(r.unblended_cost, cur)),
    );
  });
  tableBox.replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "noncompliant" },
    h("thead", {}, h("tr", {}, ["Instance", "Status", "Launched by", "Launcher", "Auto Scaling group", "Template", "Account", "Launched", "Hours", "Cost"].map((c, i) => h("th", { class: i >= 8 ? "num" : "" }, c)))),
    h("tbody", {}, rows))));
}

function kpi(label: string, value: string, bad = false): HTMLElement {
  return h("div", { class: "kpi" + (bad ? " bad" : "") }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

/** Stacked daily bars; the chart element carries the totals (data-totals, data-days) it drew. */
function drawSpend(el: HTMLElement, daily: DailySpend, cur: string): void {
  const days = [...new Set(daily.rows.map((r) => r.day))].sort();
  const index = new Map(days.map((d, i) => [d, i]));
  const series = statuses.map((st) => ({ status: st, data: days.map(() => 0) }));
  for (const r of daily.rows) {
    const s = series.find((x) => x.status === r.status);
    if (s) s.data[index.get(r.day)!] += r.unblended_cost;
  }
  const totals: Record<string, number> = {};
  for (const s of series) totals[s.status] = round2(s.data.reduce((a, b) => a + b, 0));
  el.dataset.days = String(days.length);
  el.dataset.totals = JSON.stringify(totals);
  el.dataset.dayTotals = JSON.stringify(Object.fromEntries(days.map((d, i) => [d, round2(series.reduce((a, s) => a + s.data[i], 0))])));
  if (days.length === 0) {
    el.replaceChildren(h("div", { class: "empty" }, "No EC2 spend in this range."));
    el.style.height = "auto";
    return;
  }
  const narrow = el.clientWidth < 500;
  const fmt = (v: number) => money(v, cur);
  draw(el, {
    legend: { top: 0, left: narrow ? 0 : undefined, right: narrow ? undefined : 0 },
    tooltip: {
      trigger: "axis", axisPointer: { type: "shadow" },
      formatter: (items: any) => {
        const list = Array.isArray(items) ? items : [items];
        const total = list.reduce((a: number, i: any) => a + (i.value || 0), 0);
        return `<b>${list[0]?.axisValue ?? ""}</b><br>` + list.map((i: any) => `${i.marker} ${i.seriesName}: ${fmt(i.value)}`).join("<br>") + `<br><b>Total: ${fmt(total)}</b>`;
      },
    },
    grid: { left: 8, right: 12, top: narrow ? 76 : 56, bottom: 36, containLabel: true },
    xAxis: { type: "category", data: days, name: "Usage day (UTC)", nameLocation: "middle", nameGap: 28, axisTick: { alignWithLabel: true } },
    yAxis: { type: "value", name: `Unblended cost (${cur})`, nameLocation: "end", nameGap: 14, nameTextStyle: { align: "left", color: "#5d6b7c" }, axisLabel: { formatter: (v: number) => money(v, cur).replace(/\.00$/, "") } },
    dataZoom: days.length > 62 ? [{ type: "inside" }, { type: "slider", height: 16, bottom: 0 }] : [],
    series: series.map((s) => ({
      name: statusLabel(s.status), type: "bar", stack: "spend", barMaxWidth: 36,
      itemStyle: { color: s.status === "unattributed" ? colors.muted : colors[s.status] }, emphasis: { focus: "series" }, data: s.data.map(round2),
    })),
  });
}

function round2(v: number): number { return Math.round(v * 100) / 100; }
