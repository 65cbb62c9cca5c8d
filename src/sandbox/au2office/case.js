(() => {
  'use strict';
  const app = document.getElementById('app');
  const caseId = app.dataset.caseId;
  const dialogDelay = Number(app.dataset.dialogDelay) || 0;
  // Faults: the lines re-render themselves every N ms; the reference keeps N characters.
  const rerenderMs = Number(app.dataset.rerenderLinesMs) || 0;
  const referenceMaxlength = Number(app.dataset.referenceMaxlength) || 0;
  const loginUrl = '/login?next=' + encodeURIComponent(location.pathname);

  function el(tag, props, text) {
    const e = Object.assign(document.createElement(tag), props || {});
    if (text !== undefined) e.textContent = text;
    return e;
  }

  async function call(method, url, body) {
    const opts = { method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    if (r.status === 401) {
      window.location = loginUrl;
      throw new Error('session expired');
    }
    return r;
  }

  async function errorText(r, fallback) {
    try { return (await r.json()).error || fallback; } catch (_) { return fallback; }
  }

  function lineRow(l) {
    const tr = el('tr', { className: 'order-line' });
    tr.append(el('td', { className: 'item-no' }, l.item_no),
              el('td', { className: 'qty' }, l.qty),
              el('td', { className: 'reference' }, l.reference));
    return tr;
  }

  function renderCase(c) {
    const view = el('div', { id: 'case-view' });
    view.dataset.caseId = c.case_id;
    view.dataset.status = c.status;
    const table = el('table', { id: 'order-lines' });
    table.innerHTML = '<thead><tr><th>Varenr.</th><th>Antal</th><th>Reference</th></tr></thead>';
    const tbody = el('tbody');
    c.lines.forEach(l => tbody.append(lineRow(l)));
    table.append(tbody);
    const add = el('button', { id: 'add-line', type: 'button', disabled: c.status === 'closed' }, 'Tilføj linje');
    add.addEventListener('click', () => openDialog(view, tbody));
    view.append(el('h1', {}, 'Sag ' + c.case_id),
                el('p', { className: 'case-status' }, c.status === 'closed' ? 'Lukket' : 'Åben'),
                table, add);
    app.replaceChildren(view);
    if (rerenderMs > 0) setInterval(() => rerender(tbody), rerenderMs);
  }

  // A list that refreshes itself: the same rows, as new elements.
  function rerender(tbody) {
    tbody.replaceChildren(...Array.from(tbody.children, row => row.cloneNode(true)));
  }

  let dialogPending = false;
  function openDialog(view, tbody) {
    if (dialogPending || document.getElementById('line-dialog')) return;
    dialogPending = true;
    setTimeout(() => { dialogPending = false; view.append(lineDialog(tbody)); }, dialogDelay);
  }

  function field(label, input) {
    const l = el('label', {}, label + ' ');
    l.append(input);
    return l;
  }

  function lineDialog(tbody) {
    const d = el('div', { id: 'line-dialog' });
    const itemNo = el('input', { id: 'line-item-no', name: 'item_no' });
    const itemName = el('span', { id: 'line-item-name' });
    const qty = el('input', { id: 'line-qty', name: 'qty' });
    const ref = el('input', { id: 'line-reference', name: 'reference' });
    if (referenceMaxlength > 0) ref.maxLength = referenceMaxlength;
    const save = el('button', { id: 'line-save', type: 'button' }, 'Gem');
    const cancel = el('button', { id: 'line-cancel', type: 'button' }, 'Annuller');
    d.append(field('Varenr.', itemNo), itemName, field('Antal', qty), field('Reference', ref), save, cancel);
    let lookup = { value: null, known: null };

    function showError(className, text) {
      d.querySelectorAll('.line-error, .alert-danger').forEach(e => e.remove());
      if (text) d.append(el('div', { className }, text));
    }

    async function lookUp() {
      const value = itemNo.value;
      if (lookup.value === value) return;
      const mine = lookup = { value, known: null };
      itemName.textContent = '';
      showError();
      const r = await call('GET', '/api/item?item_no=' + encodeURIComponent(value));
      if (lookup !== mine) return;
      if (r.ok) {
        const item = await r.json();
        mine.known = true;
        itemName.textContent = item.name;
      } else if (r.status === 404) {
        mine.known = false;
        showError('line-error', 'Ukendt varenummer');
      } else {
        showError('alert alert-danger', 'Varen kunne ikke slås op');
      }
    }

    async function saveLine() {
      if (lookup.value === itemNo.value && lookup.known === false) return;
      save.disabled = true;
      try {
        const body = { item_no: itemNo.value, qty: qty.value, reference: ref.value };
        const r = await call('POST', '/api/case/lines?id=' + encodeURIComponent(caseId), body);
        if (r.ok) {
          const line = await r.json();
          d.remove();
          tbody.append(lineRow(line));
        } else if (r.status >= 500) {
          showError('alert alert-danger', 'Der opstod en serverfejl. Linjen blev ikke gemt.');
        } else {
          showError('line-error', await errorText(r, 'Linjen blev ikke gemt'));
        }
      } catch (e) {
        showError('alert alert-danger', 'Linjen blev ikke gemt: ' + e.message);
      } finally {
        save.disabled = false;
      }
    }

    itemNo.addEventListener('change', () => lookUp().catch(() => {}));
    itemNo.addEventListener('keydown', e => {
      if (e.key === 'Enter') { e.preventDefault(); lookUp().catch(() => {}); }
    });
    save.addEventListener('click', () => saveLine());
    cancel.addEventListener('click', () => d.remove());
    return d;
  }

  async function load() {
    const r = await call('GET', '/api/case?id=' + encodeURIComponent(caseId));
    if (r.status === 404) {
      app.replaceChildren(el('div', { id: 'case-not-found' }, 'Sagen findes ikke'));
    } else if (!r.ok) {
      app.replaceChildren(el('div', { className: 'alert alert-danger' }, 'Sagen kunne ikke hentes'));
    } else {
      renderCase(await r.json());
    }
  }
  load().catch(() => {});
})();
