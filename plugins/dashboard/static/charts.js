// The overview's charts: one uPlot line per analytics metric, by day.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const data = JSON.parse(document.getElementById("charts-data").textContent || "[]");
  for (const chart of data) {
    const section = document.querySelector('section[data-metric="' + CSS.escape(chart.name) + '"]');
    if (!section) continue;
    const target = section.querySelector(".plot");
    const width = Math.max(240, target.clientWidth || section.clientWidth - 32);
    const plot = new uPlot({width: width, height: 180, legend: {show: false},
                            series: [{}, {label: chart.label, stroke: "#1a56b0", width: 2, fill: "rgba(26,86,176,.08)"}],
                            axes: [{}, {size: 50}]},
                           [chart.days, chart.values], target);
    section.dataset.points = String(chart.values.length);
    section.dataset.rendered = "true";
    window.addEventListener("resize", () => plot.setSize({width: Math.max(240, target.clientWidth), height: 180}));
  }
  document.body.dataset.chartsReady = "true";
});
