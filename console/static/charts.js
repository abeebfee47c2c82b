// Draws every chart whose figure the page carries as JSON (no inline script: see console/reports/charts.py).
(function () {
  function draw() {
    var blocks = document.querySelectorAll('script[type="application/json"][data-chart-for]');
    Array.prototype.forEach.call(blocks, function (block) {
      var figure = JSON.parse(block.textContent);
      window.Plotly.newPlot(block.getAttribute('data-chart-for'), figure.data, figure.layout,
                            {displaylogo: false, responsive: true});
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();
