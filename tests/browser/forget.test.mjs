// The erasure page in Debian's chromium (playwright-core): another site's
// page tries to erase its visitor's data on the collector (a no-cors fetch,
// a fetch with the page's header, a text/plain form), then the erasure page
// is opened with a script-injection payload in its address, then used for
// real. tests/it/browser.rs checks the rows before and after.
// Usage: node forget.test.mjs <collector url> <evil page url> <site>
// Prints "cross-site done" after the attack and waits for a line on stdin
// before the real erasure, so the Rust side can check the rows in between.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [collector, evilUrl, site] = process.argv.slice(2);
if (!collector || !evilUrl || !site) {
  console.error('usage: node forget.test.mjs <collector url> <evil page url> <site>');
  process.exit(2);
}
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const check = (ok, message) => { if (!ok) throw new Error('expectation failed: ' + message); };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu',
    '--disable-component-update', '--no-first-run', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
});
try {
  const context = await browser.newContext({ userAgent: CHROME });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // 1. Another origin attacks: it can neither erase nor read an answer.
  await page.goto(evilUrl);
  await page.waitForURL((url) => url.toString().startsWith(collector + '/api/forget'), { timeout: 10000 });
  const formAnswer = await page.textContent('body');
  check(formAnswer.includes('erasure requests are sent by'), 'the cross-site form is refused: ' + formAnswer);
  console.log('cross-site done');
  await nextLine();

  // 2. Script injection through the page's address runs nothing.
  const payload = '</script><script>alert(1)</script><img src=x onerror=alert(2)>"\'';
  const response = await page.goto(collector + '/api/forget?d=' + encodeURIComponent(payload));
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), 'strict CSP: ' + csp);
  check(response.headers()['x-frame-options'] === 'DENY', 'no framing');
  await sleep(500);
  const shown = await page.textContent('#site');
  check(shown === payload, 'the payload shows as text: ' + shown);
  check(await page.locator('img').count() === 0, 'no element was injected');
  check(dialogs.length === 0, 'no script ran: ' + JSON.stringify(dialogs));

  // 3. The real thing, from the erasure page itself.
  await page.goto(collector + '/api/forget?d=' + encodeURIComponent(site));
  await page.click('#forget');
  await page.waitForFunction(() => /deleted/i.test(document.getElementById('result').textContent), null, { timeout: 60000 });
  const result = await page.textContent('#result');
  check(!/\d+\s+(recorded|rows?|events?)/i.test(result), 'the answer holds no count: ' + result);
  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  console.log('erased: ' + result);
} finally {
  lines.close();
  await browser.close();
}
