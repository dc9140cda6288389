// The erasure page's script. The site comes from this page's own address
// (`?d=`) and is shown with textContent: nothing the server or the address
// holds is ever parsed as markup or script. The POST carries a header that
// only a same-origin script can send (a cross-site page would need a CORS
// preflight, which the collector never grants for /api/forget).
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var site = params.get('d') || params.get('domain') || '';
  var button = document.getElementById('forget');
  var out = document.getElementById('result');
  document.getElementById('site').textContent = site || '(no site: add ?d=<your site> to the address)';
  if (!site) { button.disabled = true; return; }
  button.addEventListener('click', function () {
    button.disabled = true;
    out.textContent = 'Deleting\u2026';
    fetch(location.pathname, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Saltmark-Erase': 'this-browser' },
      body: JSON.stringify({ d: site })
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, body: j }; });
    }).then(function (answer) {
      out.textContent = answer.ok ? answer.body.note : 'Error: ' + answer.body.error;
      if (!answer.ok) button.disabled = false;
    }).catch(function (e) {
      out.textContent = 'Error: ' + e;
      button.disabled = false;
    });
  });
})();
