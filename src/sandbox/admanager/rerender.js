// The re-render fault: every N ms the lines are replaced by fresh copies of
// themselves (same content, new elements), like a list that refreshes itself.
(() => {
  const table = document.getElementById('gridLines');
  const ms = Number(table.dataset.rerenderLinesMs) || 0;
  if (ms <= 0) return;
  setInterval(() => {
    for (const body of table.tBodies) {
      body.replaceChildren(...Array.from(body.children, row => row.cloneNode(true)));
    }
  }, ms);
})();
