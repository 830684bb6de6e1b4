// ECharts, imported piece by piece so the bundle carries only the charts auditlake draws.
import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent, DataZoomComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, DataZoomComponent, CanvasRenderer]);

export type EChart = echarts.ECharts;
export type Option = echarts.EChartsCoreOption;

const live = new Set<EChart>();
let resizeHooked = false;

/** Draws option into el, replacing any chart already there, and keeps it sized to el. */
export function draw(el: HTMLElement, option: Option): EChart {
  const old = echarts.getInstanceByDom(el);
  if (old) { live.delete(old); old.dispose(); }
  const chart = echarts.init(el, undefined, { renderer: "canvas" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif" }, ...option });
  live.add(chart);
  if (!resizeHooked) {
    resizeHooked = true;
    window.addEventListener("resize", () => live.forEach((c) => (c.isDisposed() ? live.delete(c) : c.resize())));
  }
  return chart;
}

/** Disposes charts whose elements left the page. */
export function sweep(): void {
  live.forEach((c) => {
    if (!document.body.contains(c.getDom())) { c.dispose(); live.delete(c); }
  });
}

export const colors = { approved: "#2e8b57", not_approved: "#c0392b", no_template: "#d68910", accent: "#1f5fa8", muted: "#8796a8" };
