(() => {
  'use strict';
  const form = document.getElementById('lineForm');
  const nr = document.getElementById('txtVareNr');
  const lbl = document.getElementById('lblVareNavn');
  const MSG = 'Varenummer findes ikke';
  let last = null;
  let submitted = false;

  async function fetchItem(value) {
    const r = await fetch('/WorkOrder/LookupItem?varenr=' + encodeURIComponent(value),
      { credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest' } });
    if (r.status === 401) { window.location = form.dataset.loginUrl; return { result: 'session' }; }
    if (r.status === 404) return { result: 'unknown' };
    if (!r.ok) return { result: 'error' };
    return { result: 'known', name: (await r.json()).name };
  }

  function lookUp() {
    const value = nr.value;
    if (last && last.value === value) return last;
    const entry = { value, settled: false };
    last = entry;
    lbl.textContent = '';
    entry.result = fetchItem(value).catch(() => ({ result: 'error' })).then(found => {
      entry.settled = true;
      if (last === entry && found.result === 'known') lbl.textContent = found.name;
      if (last === entry && found.result === 'unknown') alert(MSG);
      return found.result;
    });
    return entry;
  }

  nr.addEventListener('change', () => { lookUp(); });
  nr.addEventListener('keydown', e => {
    if (e.key === 'Enter') { e.preventDefault(); lookUp(); }
  });
  form.addEventListener('submit', e => {
    e.preventDefault();
    if (submitted) return;
    const entry = lookUp();
    const wasSettled = entry.settled;
    entry.result.then(result => {
      if (result === 'known' || result === 'error') {
        if (!submitted) { submitted = true; form.submit(); }
      } else if (result === 'unknown' && wasSettled) {
        alert(MSG);
      }
    });
  });
})();
