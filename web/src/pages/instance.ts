// Instance: one EC2 instance's audit trail (template, launch, state changes, tags, end) and its
// daily cost.
import { api } from "../api";
import { colors, draw } from "../charts";
import { badge, errorBox, h, money, num, shortArn, utc } from "../dom";
import { link, type IsCurrent } from "../nav";

export async function renderInstance(root: HTMLElement, id: string, params: URLSearchParams, isCurrent: IsCurrent): Promise<void> {
  const store = params.get("store") || undefined;
  const cost = params.get("cost") || undefined;
  const back = h("a", { href: link("compliance", { store, cost }) }, "← Compliance report");
  root.append(h("p", { class: "sub" }, back));
  const head = h("h1", { class: "mono" }, id);
  root.append(head);
  const body = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  root.append(body);
  let rep;
  try {
    rep = await api.instance(id, { store, cost });
  } catch (e) {
    if (isCurrent()) body.replaceChildren(errorBox(e));
    return;
  }
  if (!isCurrent()) return;
  const s = rep.summary;
  const cur = rep.currency || "USD";
  // Without cost= in the URL the server used the default cost table; the way back keeps it.
  if (!cost && rep.cost_table) back.setAttribute("href", link("compliance", { store, cost: rep.cost_table }));
  // Savings Plans and Reserved Instances make the effective (amortised) cost differ from the
  // unblended one — usage a Savings Plan covers is negated in the unblended cost, so it reads
  // $0 there: then both are shown.
  const differs = Math.round((s.unblended_cost - s.effective_cost) * 100) !== 0;
  const costFact = h("span", { id: "instance-cost", "data-instance": rep.instance_id, "data-unblended": String(s.unblended_cost), "data-effective": String(s.effective_cost) },
    `${money(s.unblended_cost, cur)} unblended`,
    differs ? h("span", { class: "effective" }, `, ${money(s.effective_cost, cur)} effective (Savings Plan / Reserved Instance rates, amortised)`) : ", the same effective (no Savings Plan or Reserved Instance applies)");
  head.append(" ", badge(s.status));
  const fact = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
  const template = s.template_id ? `${s.template_name || s.template_id} (${s.template_id}${s.template_version ? ", version " + s.template_version : ""})` : "none";
  const facts = h("dl", { class: "facts" },
    fact("Account / region", `${s.account_id || "—"} / ${s.region || "—"}`),
    fact("Launched", utc(s.launched_at)),
    fact("Launched by", h("span", { title: s.launched_by }, s.launched_by || "—")),
    fact("Launcher", s.launcher || "—"),
    s.role_arn ? fact("Role", s.role_arn) : [],
    s.source_identity ? fact("Source identity", s.source_identity) : [],
    fact("Launch template", template),
    s.reason ? fact("Why", s.reason) : [],
    fact("Ended", s.terminated_at ? utc(s.terminated_at) : "still running at the end of the data"),
    fact("Runtime", `${num(s.runtime_hours, 1)} hours`),
    fact("Cost", costFact),
    fact("Cost table", rep.cost_table ? h("span", { class: "mono", id: "instance-cost-table" }, rep.cost_table) : "none registered"),
  );
  const chartEl = h("div", { class: "chart small", id: "instance-cost-chart" });
  const events = [...rep.events].sort((a, b) => a.time.localeCompare(b.time));
  const timeline = events.length === 0 ? h("div", { class: "empty" }, "No CloudTrail events for this instance.") :
    h("ol", { class: "timeline", id: "timeline" }, events.map((e) => h("li", { class: "kind-" + (e.kind || "other"), "data-kind": e.kind },
      h("span", { class: "t" }, utc(e.time)),
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("div", { class: "body" },
        h("div", { class: "what" }, e.event_name, h("span", { class: "who" }, "  ", e.event_source)),
        h("div", { class: "who", title: e.actor }, shortArn(e.actor)),
        e.detail ? h("div", { class: "detail" }, e.detail) : null))));
  body.replaceChildren(
    h("div", { class: "grid2" },
      h("section", { class: "panel" }, h("h2", {}, "Definition and launch"), facts),
      h("section", { class: "panel" }, h("h2", {}, "Daily cost"), chartEl)),
    h("section", { class: "panel", style: "margin-top:16px" }, h("h2", {}, `Audit trail (${events.length} events)`), timeline),
  );
  const days = rep.daily_cost.map((d) => d.day);
  chartEl.dataset.total = String(Math.round(rep.daily_cost.reduce((a, d) => a + d.unblended_cost, 0) * 100) / 100);
  chartEl.dataset.effectiveTotal = String(Math.round(rep.daily_cost.reduce((a, d) => a + d.effective_cost, 0) * 100) / 100);
  if (days.length === 0) {
    chartEl.replaceChildren(h("div", { class: "empty" }, "No cost lines for this instance."));
    chartEl.style.height = "auto";
    return;
  }
  draw(chartEl, {
    tooltip: { trigger: "axis", valueFormatter: (v: any) => money(Number(v), cur) },
    legend: { top: 0, left: 0 },
    grid: { left: 8, right: 12, top: 56, bottom: 30, containLabel: true },
    xAxis: { type: "category", data: days, name: "Usage day (UTC)", nameLocation: "middle", nameGap: 26 },
    yAxis: { type: "value", name: `Cost per day (${cur})`, nameLocation: "end", nameGap: 12, nameTextStyle: { align: "left", color: "#5d6b7c" }, axisLabel: { formatter: (v: number) => money(v, cur) } },
    series: [
      { name: "Unblended", type: "bar", barMaxWidth: 28, itemStyle: { color: colors.accent }, data: rep.daily_cost.map((d) => d.unblended_cost) },
      { name: "Effective", type: "line", symbolSize: 5, itemStyle: { color: colors.no_template }, data: rep.daily_cost.map((d) => d.effective_cost) },
    ],
  });
}
