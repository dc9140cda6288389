// saltmark tracker: page views (single-page apps included), custom events
// with a queue, engagement (time on page, scroll depth); in its variants
// outbound links, file downloads, tagged elements. ES5, one IIFE, no
// cookie, nothing stored; every entry point is inside try/catch.
//
// build.rs makes /js/script.js and its variants from this file:
//  - `'@features'` becomes the variant's feature names ('' for script.js,
//    'hash outbound-links' for script.hash.outbound-links.js, …);
//  - lines between `//@if <feature> …` and `//@end` are kept only in
//    variants with one of those features (blocks do not nest);
//  - whole-line comments and whitespace are removed (write one statement per
//    line with its semicolon; no comment after code; a division only after
//    a name or a closing bracket, where it cannot be read as a pattern);
//  - the result is gzipped and brotli-compressed. script.js must stay at or
//    under 1 024 bytes gzipped: build.rs fails the build otherwise.
// Hence the one-letter names:
//   w window, d document, l location, n navigator, s our <script> element,
//   F variant features, H hash mode, O outbound links, D download pattern,
//   L last page key, U collector endpoint, M site domain,
//   A(k) data-k attribute, E(k) feature k on (variant or attribute),
//   S(name, options) send an event (also window.saltmark), P() page view,
//   C(event) click handler;
//   engagement: K the engaged page's URL, V when it became visible (0 while
//   hidden), T engaged milliseconds not sent yet, Y deepest scroll (percent),
//   Q deepest scroll sent, Z() measure the scroll, N() send the engagement.
(function (w, d) {
  var l = location, n = navigator, F = '@features', s, H, O, D, L, U, M, K, V = Date.now(), T = 0, Y = 0, Q = 0;
  function A(k) {
    return s.getAttribute('data-' + k);
  }
  function E(k) {
    return F.indexOf(k) + 1 || A(k) != null;
  }
  function S(m, o) {
    o = o || {};
    try {
      // Not on localhost, 127.x.x.x, [::1] or file: (empty hostname) unless
      // data-local; not when the site respects Global Privacy Control and
      // the browser sends it.
      var x = A('local') == null && /^(localhost|127(\.\d+){3}|\[::1\]|)$/.test(l.hostname) || A('respect-gpc') != null && n.globalPrivacyControl;
      // The opt-out flag is the only thing ever read from storage (which
      // may throw when storage is blocked).
      try {
        x = x || localStorage.saltmark_ignore == 'true';
      } catch (e) {}
      if (!x) {
        var b = JSON.stringify({n: m, u: o.u || l.href, d: M, r: d.referrer, w: innerWidth, h: H, p: o.props, sd: o.sd, e: o.e});
        // A beacon (or a keepalive fetch) outlives the page: nothing is
        // lost when the visitor navigates away right after an event. A
        // string body is sent as text/plain (no CORS preflight). A failed
        // fetch is caught (by P, a no-op here): no rejection reaches the
        // host page.
        n.sendBeacon(U, b) || fetch(U, {method: 'POST', body: b, keepalive: !0})['catch'](P);
      }
      o.callback && o.callback();
    } catch (e) {}
  }
  // One page view per path (path + fragment in hash mode): a replaceState
  // that only changes the query string, or a fragment change outside hash
  // mode, sends nothing. (Outside hash mode the key ends in 'false'.)
  // A new page first closes the previous one's engagement.
  function P() {
    var k = l.pathname + (H && l.hash);
    if (k != L) {
      N();
      T = Y = Q = 0;
      // (L = k) as the options argument is harmless: a string has no u,
      // props or callback.
      S('pageview', L = k);
      K = l.href;
      Z();
    }
  }
  // How far down the page the visitor has seen, percent (the deepest so
  // far is kept).
  function Z() {
    var e = d.documentElement, h = Math.max(e.scrollHeight, e.offsetHeight);
    Y = Math.max(Y, Math.min(100, Math.round((scrollY + innerHeight) * 100 / h)));
  }
  // Engagement, as Plausible's tracker sends it: the engaged (visible)
  // milliseconds since the last one and the deepest scroll, when the page is
  // hidden and before the next page of a single-page app, if the visitor
  // scrolled deeper or stayed three seconds more since the last one.
  function N() {
    var t = Date.now();
    V && (T += t - V, V = t);
    Z();
    K && (Y > Q || T >= 3e3) && S('engagement', {u: K, sd: Q = Y, e: T}, T = 0);
  }
  //@if outbound-links file-downloads tagged-events
  function C(e) {
    try {
      // Left or middle button (auxclick), keyboard activation.
      if (e.button < 2) {
        for (var t = e.target, a, k; t && t.getAttribute; t = t.parentNode) {
          if (!a && t.tagName == 'A' && t.href) a = t;
          //@if tagged-events
          // (A repeated var keeps its value: r stays set once found.)
          var m, p, r;
          // Tagged elements: class="saltmark-event-name=Signup
          // saltmark-event-plan=pro" (or plausible-event-…, '+' for a
          // space), or data-saltmark-event="Signup"; the innermost wins.
          if (!r) {
            k = t.getAttribute('data-saltmark-event');
            p = {};
            r = /(?:saltmark|plausible)-event-(.+?)=(\S+)/g;
            while (m = r.exec(t.getAttribute('class'))) {
              m[2] = m[2].replace(/\+/g, ' ');
              m[1] == 'name' ? k = m[2] : p[m[1]] = m[2];
            }
            r = k && S(k, {props: p}) || k;
          }
          //@if outbound-links file-downloads tagged-events
        }
        a && (k = {props: {url: a.href}}, D && D.test(a.pathname) ? S('File Download', k) : O && a.host && a.host != l.host && S('Outbound Link: Click', k));
      }
    } catch (e) {}
  }
  //@end
  try {
    s = d.currentScript || d.createElement('script');
    M = A('domain') || l.hostname.replace(/^www\./, '');
    // Default endpoint: the script's own origin.
    U = A('api') || s.src.split('/').slice(0, 3).join('/') + '/api/event';
    H = E('hash');
    //@if outbound-links file-downloads tagged-events
    O = E('outbound');
    D = E('downloads') && /\.(pdf|docx?|xlsx?|pptx?|csv|txt|zip|rar|7z|gz|exe|dmg|msi|apk|mp[34]|mov|avi|wav)$/i;
    d.addEventListener('click', C, !0);
    d.addEventListener('auxclick', C, !0);
    //@end
    var h = history, q = [].concat((w.saltmark || 0).q || [], (w.plausible || 0).q || []), i = 0;
    ['pushState', 'replaceState'].forEach(function (k) {
      var f = h[k];
      h[k] = function () {
        var r = f.apply(this, arguments);
        P();
        return r;
      };
    });
    addEventListener('popstate', P);
    addEventListener('hashchange', P);
    addEventListener('scroll', Z);
    d.addEventListener('visibilitychange', function () {
      d.hidden ? (N(), V = 0) : V = Date.now();
    });
    // Page view first, then the calls queued by the window.saltmark (or
    // window.plausible) stub before the script loaded.
    w.saltmark = w.plausible = S;
    d.prerendering ? d.addEventListener('prerenderingchange', P) : P();
    for (; i < q.length; i++) S.apply(w, q[i]);
  } catch (e) {}
})(window, document);
