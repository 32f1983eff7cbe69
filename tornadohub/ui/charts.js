// Small live line charts in SVG, built node by node (no markup strings, no inline styles:
// colours come from the style sheet through class names).

import { h, svg } from './dom.js';

const WIDTH = 240;
const HEIGHT = 56;
const PAD = 3;

/**
 * A chart of one or more series over the same points: [{values, className, name}]; null
 * values are gaps. `label` describes the chart for screen readers, `format` the last value.
 */
export function lineChart({ label, series, format = String, max = null }) {
  const count = Math.max(2, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && Number.isFinite(v)));
  const top = max ?? (Math.max(...all, 0) * 1.15 || 1);
  const x = (i) => PAD + (i * (WIDTH - 2 * PAD)) / (count - 1);
  const y = (v) => HEIGHT - PAD - (Math.min(v, top) / top) * (HEIGHT - 2 * PAD);
  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'none',
  }, svg('line', { class: 'axis', x1: 0, y1: HEIGHT - PAD, x2: WIDTH, y2: HEIGHT - PAD }));
  for (const s of series) {
    let run = [];
    const flush = () => {
      if (run.length === 1) chart.append(svg('circle', { class: s.className, cx: run[0][0], cy: run[0][1], r: 1.5 }));
      else if (run.length > 1) chart.append(svg('polyline', { class: s.className, points: run.map((p) => p.join(',')).join(' ') }));
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) flush();
      else run.push([x(i).toFixed(1), y(v).toFixed(1)]);
    });
    flush();
  }
  const legend = h('p', { class: 'chart-legend' }, series.map((s) => {
    const last = [...s.values].reverse().find((v) => v !== null && Number.isFinite(v));
    return h('span', { class: `key ${s.className}` }, `${s.name}: ${last === undefined ? '–' : format(last)}`);
  }));
  return h('figure', { class: 'chart-box' }, h('figcaption', null, label), chart, legend);
}
