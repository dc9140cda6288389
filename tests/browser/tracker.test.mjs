// Drives Debian's chromium (playwright-core) through the pages that
// tests/it/browser.rs serves; tests/it/browser.rs then checks the rows the
// collector stored. Usage: node tracker.test.mjs <collector url> <page url>
// where <page url> is http://shop.test:<port> (mapped to 127.0.0.1 here, so
// the script sees a real host name, not localhost).
// Exits non-zero with a message on the first failed expectation.
import { chromium } from 'playwright-core';

const [collector, pageUrl] = process.argv.slice(2);
if (!collector || !pageUrl) {
  console.error('usage: node tracker.test.mjs <collector url> <page url>');
  process.exit(2);
}
const port = new URL(pageUrl).port;
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

function check(ok, message) {
  if (!ok) throw new Error('expectation failed: ' + message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-gpu',
    '--disable-component-update',
    '--no-first-run',
    '--host-resolver-rules=MAP shop.test 127.0.0.1',
  ],
});
const summary = {};
try {
  const context = await browser.newContext({ userAgent: CHROME });
  // Every event request the pages make, as [name, body]; engagement
  // events (sent when a page is hidden or left) apart, in `engaged`.
  const sent = [];
  const engaged = [];
  context.on('request', (request) => {
    if (request.url().startsWith(collector + '/api/event')) {
      let body = {};
      try { body = JSON.parse(request.postData() || '{}'); } catch (e) {}
      (body.n === 'engagement' ? engaged : sent).push([body.n, body]);
    }
  });
  const expectEngaged = async (count, what) => {
    const deadline = Date.now() + 5000;
    while (engaged.length < count && Date.now() < deadline) await sleep(25);
    check(engaged.length === count, `${what}: ${count} engagement events expected, saw ${JSON.stringify(engaged.map((s) => s[1]))}`);
  };
  const expectSent = async (count, what) => {
    const deadline = Date.now() + 5000;
    while (sent.length < count && Date.now() < deadline) await sleep(25);
    check(sent.length === count, `${what}: ${count} event requests expected, saw ${sent.length}: ${JSON.stringify(sent.map((s) => s[0]))}`);
  };
  const expectQuiet = async (count, what) => {
    await sleep(700);
    check(sent.length === count, `${what}: nothing should be sent, saw ${JSON.stringify(sent.slice(count))}`);
  };
  const errors = [];
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));

  // Load: a page view, then the call queued before the script loaded.
  await page.goto(pageUrl + '/');
  await expectSent(2, 'load');
  check(sent[0][0] === 'pageview' && sent[1][0] === 'Queued Before Load', 'page view first, then the queue');
  check(sent[0][1].d === 'shop.test' && sent[0][1].u === pageUrl + '/', 'payload d and u: ' + JSON.stringify(sent[0][1]));
  check(typeof sent[0][1].w === 'number', 'payload w');
  check(engaged.length === 0, 'no engagement on load');

  // Engagement: hiding the page sends how long it was visible and how far
  // it was scrolled (this short page is seen whole: 100 %); showing it
  // again and hiding it at once sends nothing new.
  await sleep(300);
  const hide = (hidden) => page.evaluate((hidden) => {
    Object.defineProperty(document, 'hidden', { value: hidden, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
  await hide(true);
  await expectEngaged(1, 'page hidden');
  const first = engaged[0][1];
  check(first.u === pageUrl + '/' && first.sd === 100 && first.e >= 250 && first.e < 5000, 'engagement payload: ' + JSON.stringify(first));
  await hide(false);
  await hide(true);
  await sleep(300);
  check(engaged.length === 1, 'nothing new, nothing sent: ' + JSON.stringify(engaged.map((s) => s[1])));
  await hide(false);

  // Single-page navigation: pushState sends, a query-only replaceState
  // does not, going back (popstate) does.
  await page.evaluate(() => history.pushState({}, '', '/app/settings'));
  await expectSent(3, 'pushState');
  // A single-page navigation first closes the previous page's engagement:
  // here it was sent on hiding, and since then neither deeper scroll nor
  // three more seconds, so only the page view goes.
  check(engaged.length === 1, 'no engagement without news: ' + JSON.stringify(engaged.map((s) => s[1])));
  await page.evaluate(() => history.replaceState({}, '', '/app/settings?tab=2'));
  await expectQuiet(3, 'query-only replaceState');
  await page.evaluate(() => history.back());
  await expectSent(4, 'popstate');

  // Outbound link and file download (the page cancels the navigation).
  await page.click('#out');
  await expectSent(5, 'outbound click');
  check(sent[4][0] === 'Outbound Link: Click', 'outbound event name');
  await page.click('#file');
  await expectSent(6, 'download click');
  check(sent[5][0] === 'File Download', 'download event name');
  // An internal link is neither.
  await page.click('#internal');
  await expectQuiet(6, 'internal link');

  // A custom event with props, through the plausible alias too.
  await page.evaluate(() => window.saltmark('Purchase', { props: { plan: 'pro', amount: 42 } }));
  await expectSent(7, 'custom event');
  await page.evaluate(() => new Promise((resolve) => window.plausible('Alias', { callback: resolve })));
  await expectSent(8, 'plausible alias with callback');

  // Navigating away right after an event: the beacon outlives the page.
  await Promise.all([
    page.waitForURL(pageUrl + '/bye'),
    page.evaluate(() => { window.saltmark('Checkout', { props: { step: 'pay' } }); location.href = '/bye'; }),
  ]);
  await expectSent(9, 'event before unload');

  // Tagged elements (tagged-events variant): the innermost tag wins.
  await page.goto(pageUrl + '/tagged');
  await expectSent(10, 'tagged page view');
  await page.click('#signup span');
  await expectSent(11, 'tagged click');
  check(sent[10][0] === 'Signup', 'tagged name: ' + sent[10][0]);
  await page.click('#plain');
  await expectSent(12, 'data-saltmark-event click');
  check(sent[11][0] === 'Newsletter', 'data attribute name: ' + sent[11][0]);

  // Hash routing (data-hash): a fragment change is a page view.
  await page.goto(pageUrl + '/hash');
  await expectSent(13, 'hash page view');
  await page.evaluate(() => { location.hash = '#/pricing'; });
  await expectSent(14, 'hash change');
  check(sent[13][1].h, 'hash mode flag');

  // localhost is ignored without data-local.
  await page.goto(`http://127.0.0.1:${port}/`);
  await expectQuiet(14, 'localhost');

  // Nothing stored: no cookie anywhere, no storage on the site.
  await page.goto(pageUrl + '/bye');
  const cookies = await context.cookies();
  const storage = await page.evaluate(async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    indexedDB: indexedDB.databases ? (await indexedDB.databases()).length : 0,
  }));
  summary.cookies = cookies.length;
  summary.storage = storage;
  check(cookies.length === 0, 'cookies: ' + JSON.stringify(cookies));
  check(storage.local === 0 && storage.session === 0 && storage.indexedDB === 0, 'storage: ' + JSON.stringify(storage));

  // The opt-out flag silences the script.
  await page.evaluate(() => { localStorage.saltmark_ignore = 'true'; });
  await page.goto(pageUrl + '/optout');
  await expectQuiet(14, 'opt-out');
  await page.evaluate(() => window.saltmark('Ignored'));
  await expectQuiet(14, 'opt-out custom event');
  await page.evaluate(() => localStorage.removeItem('saltmark_ignore'));

  // Global Privacy Control, when the site respects it.
  const gpc = await context.newPage();
  await gpc.addInitScript(() => Object.defineProperty(navigator, 'globalPrivacyControl', { value: true }));
  await gpc.goto(pageUrl + '/gpc');
  await expectQuiet(14, 'GPC');
  await gpc.close();

  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  summary.events = sent.map((s) => s[0]);
  summary.engagements = engaged.length;
  check(engaged.every(([, b]) => b.sd >= 0 && b.sd <= 100 && b.e >= 0 && typeof b.u === 'string'), 'engagement payloads: ' + JSON.stringify(engaged.map((s) => s[1])));
  console.log(JSON.stringify(summary));
} catch (e) {
  console.error(e && e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
