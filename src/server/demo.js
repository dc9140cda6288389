// The demo page's script: the tracker's queue stub (calls made before the
// tracker loads are kept), the button's custom event, and a log of what the
// tracker sends (the browser's own record of its requests).
window.saltmark = window.saltmark || function () { (window.saltmark.q = window.saltmark.q || []).push(arguments); };
document.addEventListener('DOMContentLoaded', function () {
  'use strict';
  var log = document.getElementById('log');
  document.getElementById('signup').addEventListener('click', function () {
    window.saltmark('Signup', { props: { plan: 'pro' } });
  });
  if (window.PerformanceObserver) {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) {
        if (e.name.indexOf('/api/event') >= 0) log.textContent += new Date().toLocaleTimeString() + ' event sent\n';
      });
    }).observe({ type: 'resource', buffered: true });
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href^="/files/"]');
    if (a) e.preventDefault();
  });
});
