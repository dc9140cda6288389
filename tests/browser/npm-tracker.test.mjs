// Plausible's official npm tracker (@plausible-analytics/tracker, pinned in
// package-lock.json) in Debian's chromium against saltmark: a page view, a
// custom event with a property, and the engagement sent on leaving the
// page. tests/it/browser.rs serves the page and then checks what saltmark
// stored and answers. Usage: node npm-tracker.test.mjs <collector url> <page url>
import { chromium } from 'playwright-core';

const [collector, pageUrl] = process.argv.slice(2);
if (!collector || !pageUrl) {
  console.error('usage: node npm-tracker.test.mjs <collector url> <page url>');
  process.exit(2);
}
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const check = (ok, message) => { if (!ok) throw new Error('expectation failed: ' + message); };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update',
    '--no-first-run', '--host-resolver-rules=MAP shop.test 127.0.0.1'],
});
try {
  const context = await browser.newContext({ userAgent: CHROME });
  // Plausible's tracker ignores automated browsers (navigator.webdriver);
  // a visitor's browser does not say so.
  await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false }));
  const sent = [];
  const answers = [];
  context.on('request', (request) => {
    if (request.url().startsWith(collector + '/api/event')) {
      let body = {};
      try { body = JSON.parse(request.postData() || '{}'); } catch (e) {}
      sent.push(body);
    }
  });
  context.on('response', (response) => {
    if (response.url().startsWith(collector + '/api/event')) answers.push(response.status());
  });
  const expectSent = async (count, what) => {
    const deadline = Date.now() + 8000;
    while (sent.length < count && Date.now() < deadline) await sleep(25);
    check(sent.length >= count, `${what}: ${count} requests expected, saw ${JSON.stringify(sent)}`);
  };
  const errors = [];
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  // (Console errors are not collected: the browser's own favicon request
  // is a 404 here.)

  await page.goto(pageUrl + '/npm/blog');
  await expectSent(1, 'page view');
  check(sent[0].n === 'pageview' && sent[0].u === pageUrl + '/npm/blog' && sent[0].d === 'shop.test', 'page view: ' + JSON.stringify(sent[0]));
  await page.evaluate(() => window.track('Signup', { props: { plan: 'pro' } }));
  await expectSent(2, 'custom event');
  check(sent[1].n === 'Signup' && sent[1].p && sent[1].p.plan === 'pro', 'custom event: ' + JSON.stringify(sent[1]));
  // Read for a while, scroll to the end, leave.
  await sleep(1200);
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await sleep(1200);
  // Leaving: the page becomes hidden (as when the tab is switched or
  // closed; headless chromium does not report it on navigation).
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expectSent(3, 'engagement on leaving');
  const engagement = sent.find((b) => b.n === 'engagement');
  check(engagement && engagement.u === pageUrl + '/npm/blog' && engagement.sd === 100 && engagement.e >= 2000,
    'engagement: ' + JSON.stringify(sent));
  await sleep(500);
  check(answers.length === sent.length && answers.every((s) => s === 202), 'saltmark accepted each: ' + JSON.stringify(answers));
  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  console.log(JSON.stringify({ sent: sent.map((b) => b.n), engagement }));
} catch (e) {
  console.error(e && e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
