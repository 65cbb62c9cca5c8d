(() => {
  const app = document.getElementById('app');
  setTimeout(() => {
    const nav = document.createElement('nav');
    nav.id = 'main-nav';
    nav.innerHTML = '<a href="/dashboard">Forside</a> | <span>Sager</span> | <span>Kunder</span>';
    app.replaceChildren(nav, Object.assign(document.createElement('h1'), { textContent: 'Velkommen' }));
  }, Number(app.dataset.delay) || 0);
})();
