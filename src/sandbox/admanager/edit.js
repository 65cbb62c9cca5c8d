// Loads the lines frame only once the page has loaded, so the frame's content
// really arrives late (a WebDriver `get` waits for frames in the markup).
window.addEventListener('load', () => {
  const f = document.getElementById('linesFrame');
  f.src = f.dataset.src;
});
