// Item-analysis charts as SVG built with DOM calls (no library): a histogram of facility
// and a scatter of facility × discrimination (point-biserial) with flagged items marked.
// Each chart has a title and description for screen readers, and every bar and point a
// <title> (its tooltip: the item's stem and key); the table below the charts holds the
// same numbers. The captions and the axes use the same words (the catalogue's
// js.charts.* keys), so the scatter's caption names the axis it plots.
import { t, tn } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 360;
const H = 240;
const M = { top: 12, right: 14, bottom: 46, left: 50 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

/** An SVG element with attributes. */
export function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function frame(id, titleKey, descKey) {
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": `${id}-t ${id}-d`,
    class: "chart-svg",
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(el("title", { id: `${id}-t` }, t(titleKey)), el("desc", { id: `${id}-d` }, t(descKey)));
  return svg;
}

function axes(svg, { xLabel, yLabel, xTicks, yTicks, x, y }) {
  const g = el("g", { class: "axis", "aria-hidden": "true" });
  g.append(el("line", { x1: M.left, y1: M.top + PH, x2: M.left + PW, y2: M.top + PH, stroke: "#4a4a4a" }));
  g.append(el("line", { x1: M.left, y1: M.top, x2: M.left, y2: M.top + PH, stroke: "#4a4a4a" }));
  for (const v of xTicks) {
    g.append(el("line", { x1: x(v), y1: M.top + PH, x2: x(v), y2: M.top + PH + 4, stroke: "#4a4a4a" }));
    g.append(el("text", { x: x(v), y: M.top + PH + 18, "text-anchor": "middle", "font-size": 13, fill: "#1a1a1a" }, String(v)));
  }
  for (const v of yTicks) {
    g.append(el("line", { x1: M.left - 4, y1: y(v), x2: M.left, y2: y(v), stroke: "#4a4a4a" }));
    g.append(el("line", { x1: M.left, y1: y(v), x2: M.left + PW, y2: y(v), stroke: "#e0e3e7" }));
    g.append(el("text", { x: M.left - 7, y: y(v) + 4, "text-anchor": "end", "font-size": 13, fill: "#1a1a1a" }, String(v)));
  }
  g.append(el("text", { x: M.left + PW / 2, y: H - 6, "text-anchor": "middle", "font-size": 14, fill: "#1a1a1a" }, xLabel));
  g.append(
    el("text", { x: 12, y: M.top + PH / 2, "text-anchor": "middle", "font-size": 14, fill: "#1a1a1a", transform: `rotate(-90 12 ${M.top + PH / 2})` }, yLabel),
  );
  svg.append(g);
}

/** Counts of ``values`` (0–1) in ``bins`` equal bands; 1.0 falls in the last. */
export function histogram(values, bins = 10) {
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))] += 1;
  return counts;
}

function niceTicks(max) {
  const step = max <= 5 ? 1 : Math.ceil(max / 5);
  const ticks = [];
  for (let v = 0; v <= max; v += step) ticks.push(v);
  return ticks;
}

export function facilityHistogram(stats, bins = 10) {
  const values = stats.item_stats.map((s) => s.facility).filter((v) => v !== null && v !== undefined);
  const counts = histogram(values, bins);
  const top = Math.max(1, ...counts);
  const ticks = niceTicks(top);
  const yMax = ticks[ticks.length - 1] < top ? top : ticks[ticks.length - 1];
  const svg = frame("hist", "js.charts.histogram", "js.charts.histogram_desc");
  const x = (v) => M.left + v * PW;
  const y = (v) => M.top + PH - (v / yMax) * PH;
  axes(svg, {
    xLabel: t("js.charts.facility"),
    yLabel: t("js.charts.items"),
    xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    yTicks: ticks,
    x,
    y,
  });
  const bars = el("g", { class: "bars" });
  const width = PW / bins;
  counts.forEach((n, i) => {
    const lo = (i / bins).toFixed(1);
    const hi = ((i + 1) / bins).toFixed(1);
    const bar = el("rect", {
      x: M.left + i * width + 1,
      y: y(n),
      width: Math.max(0, width - 2),
      height: M.top + PH - y(n),
      fill: "#0b57d0",
      class: "bar",
      "data-count": n,
    });
    bar.append(el("title", {}, t("js.charts.bar_label", { range: `${lo}–${hi}`, items: tn("js.charts.n_items", n) })));
    bars.append(bar);
  });
  svg.append(bars);
  return svg;
}

export function facilityScatter(stats) {
  const svg = frame("scatter", "js.charts.scatter", "js.charts.scatter_desc");
  const points = stats.item_stats.filter((s) => s.facility !== null && s.point_biserial !== null);
  const low = Math.min(-0.2, ...points.map((s) => s.point_biserial));
  const yMin = Math.floor(low * 5) / 5;
  const x = (v) => M.left + v * PW;
  const y = (v) => M.top + PH - ((v - yMin) / (1 - yMin)) * PH;
  const yTicks = [];
  for (let v = yMin; v <= 1.0001; v += 0.2) yTicks.push(Number(v.toFixed(1)));
  axes(svg, {
    xLabel: t("js.charts.facility"),
    yLabel: t("js.charts.discrimination"),
    xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    yTicks,
    x,
    y,
  });
  // The zero line: below it an item works against the rest of the paper.
  svg.append(el("line", { x1: M.left, y1: y(0), x2: M.left + PW, y2: y(0), stroke: "#4a4a4a", "stroke-dasharray": "4 3", "aria-hidden": "true" }));
  const g = el("g", { class: "points" });
  for (const s of points) {
    const flagged = s.flags.some((f) => f !== "few_responses");
    const cx = x(s.facility);
    const cy = y(s.point_biserial);
    const mark = flagged
      ? el("rect", { x: cx - 5, y: cy - 5, width: 10, height: 10, fill: "#b3261e", class: "point flagged", "data-key": s.key })
      : el("circle", { cx, cy, r: 4.5, fill: "#0b57d0", "fill-opacity": 0.8, class: "point", "data-key": s.key });
    const name = stats.stems?.[s.key] ? `${stats.stems[s.key]} (${s.key})` : s.key;
    mark.append(el("title", {}, t("js.charts.point_label", { key: name, p: s.facility.toFixed(2), r: s.point_biserial.toFixed(2) })));
    g.append(mark);
  }
  svg.append(g);
  return svg;
}

const dataNode = document.getElementById("page-data");
const stats = dataNode ? JSON.parse(dataNode.textContent || "{}") : null;
const histogramFigure = document.getElementById("facility-histogram");
const scatterFigure = document.getElementById("facility-scatter");
if (stats && stats.item_stats && histogramFigure && scatterFigure) {
  histogramFigure.prepend(facilityHistogram(stats));
  scatterFigure.prepend(facilityScatter(stats));
}
