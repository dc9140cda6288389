// Drives Debian's chromium (playwright-core) through the dashboard of a
// collector that samples small periods (tests/it/browser.rs starts it with
// a low query.sample_above_events): the page says its figures are
// estimated, from what share and within what margin, shows the API's
// estimate, and "Exact figures" asks every panel (the funnel's too) for the exact answer, in
// the URL so that a bookmark keeps it.
// Usage: node sampling.test.mjs <collector url> <api key> <user> <password> [screenshot file]
// Exits non-zero with a message on the first failed expectation.
import { chromium } from 'playwright-core';

const [collector, apiKey, user, password, shot] = process.argv.slice(2);
if (!password) {
  console.error('usage: node sampling.test.mjs <collector> <api key> <user> <password>');
  process.exit(2);
}
const SITE = 'shop.test';
const HEADLINE = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'];

function check(ok, message) {
  if (!ok) throw new Error('expectation failed: ' + message);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function api(body, path = '/api/v2/query') {
  const response = await fetch(collector + path, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  check(response.ok, `API ${JSON.stringify(body)}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

const waitReady = (page) => page.waitForFunction(() => {
  const board = document.querySelector('#board');
  return board && !board.hidden && board.dataset.state === 'ready';
}, null, { timeout: 30000 });

const headlineBody = (include) => ({
  site_id: SITE, date_range: '30d', metrics: HEADLINE, filters: [],
  include: Object.assign({ comparisons: { mode: 'previous_period', up_to_now: true } }, include),
});
const cards = (page) => page.$$eval('#headline [data-metric]', (nodes) => nodes.map((n) => [n.dataset.metric, Number(n.dataset.value)]));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(collector + '/dashboard');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#login-form button[type=submit]');
  await waitReady(page);

  // Sampled: the note gives the API's share and margin, the cards its estimate.
  const estimate = await api(headlineBody({}));
  const sampling = estimate.meta.sampling;
  check(sampling && sampling.fraction < 1, 'the collector samples this period: ' + JSON.stringify(estimate.meta));
  const note = await page.$eval('#sampling-note', (n) => [n.hidden, n.dataset.fraction, n.textContent]);
  const share = Math.round(1 / sampling.fraction);
  check(!note[0] && note[1] === String(sampling.fraction), 'the page says its figures are estimated: ' + JSON.stringify(note));
  check(note[2].startsWith(`Estimated from 1 in ${share} visitors`), 'the note names the share: ' + note[2]);
  const margin = (sampling.visitors_margin * 100).toFixed(2).replace(/\.?0+$/, '');
  check(note[2].includes(`±${margin}%`), `the note gives the margin ${margin} %: ${note[2]}`);
  const shown = await cards(page);
  check(same(shown, HEADLINE.map((m, i) => [m, estimate.results[0].metrics[i]])), `estimated headline ${JSON.stringify(shown)} vs ${JSON.stringify(estimate.results[0].metrics)}`);
  for (const id of ['pages', 'sources', 'devices']) {
    const asked = JSON.parse(await page.$eval(`#panel-${id}`, (n) => n.dataset.query));
    check(!asked.include || asked.include.exact === undefined, `panel ${id} asks for the estimate by default: ${JSON.stringify(asked)}`);
    const answer = await api(asked);
    const marked = await page.$eval(`#panel-${id}`, (n) => [n.dataset.fraction, (n.querySelector('.note.sampled') || {}).textContent]);
    check(answer.meta.sampling && marked[0] === String(answer.meta.sampling.fraction), `panel ${id} says it is estimated: ${JSON.stringify(marked)} ${JSON.stringify(answer.meta)}`);
    check((marked[1] || '').startsWith('Estimated from 1 in'), `panel ${id}'s note: ${marked[1]}`);
  }
  // The funnel too: its note speaks of the first step's visitors.
  const funnelAsked = JSON.parse(await page.$eval('#panel-funnels', (n) => n.dataset.query));
  check(funnelAsked.include === undefined, 'the funnel asks for the estimate by default: ' + JSON.stringify(funnelAsked));
  const funnelEstimate = await api(funnelAsked, '/api/v2/funnel');
  const funnelMarked = await page.$eval('#panel-funnels', (n) => [n.dataset.fraction, (n.querySelector('.note.sampled') || {}).textContent]);
  check(funnelEstimate.meta.sampling && funnelMarked[0] === String(funnelEstimate.meta.sampling.fraction), `the funnel says it is estimated: ${JSON.stringify(funnelMarked)} ${JSON.stringify(funnelEstimate.meta)}`);
  check((funnelMarked[1] || '').includes('first step’s visitors ±'), `the funnel's note: ${funnelMarked[1]}`);
  const funnelSteps = (p) => p.$$eval('#panel-funnels tbody tr', (trs) => trs.map((tr) => Number(tr.querySelector('td[data-metric=visitors]').dataset.value)));
  check(same(await funnelSteps(page), funnelEstimate.steps.map((st) => st.visitors)), 'the funnel shows the estimate');
  if (shot) await page.screenshot({ path: shot, fullPage: true });

  // Exact figures: in the URL, asked by every panel, no note, the exact numbers.
  await page.click('#exact');
  await waitReady(page);
  check(page.url().includes('exact=1'), 'the switch is in the URL: ' + page.url());
  const exact = await api(headlineBody({ exact: true }));
  check(exact.meta.sampling === undefined, 'the exact answer is not sampled: ' + JSON.stringify(exact.meta));
  const exactNote = await page.$eval('#sampling-note', (n) => [n.hidden, n.textContent]);
  check(same(exactNote, [true, '']), 'no estimate to speak of: ' + JSON.stringify(exactNote));
  const exactCards = await cards(page);
  check(same(exactCards, HEADLINE.map((m, i) => [m, exact.results[0].metrics[i]])), `exact headline ${JSON.stringify(exactCards)} vs ${JSON.stringify(exact.results[0].metrics)}`);
  for (const id of ['pages', 'sources', 'devices']) {
    const asked = JSON.parse(await page.$eval(`#panel-${id}`, (n) => n.dataset.query));
    check(asked.include && asked.include.exact === true, `panel ${id} asks for exact figures: ${JSON.stringify(asked)}`);
    const answer = await api(asked);
    check(answer.meta.sampling === undefined, `panel ${id}: exact ${JSON.stringify(answer.meta)}`);
    const shownRows = await page.$$eval(`#panel-${id} tbody tr[data-value]`, (trs) => trs.map((tr) => [tr.dataset.value, ...[...tr.querySelectorAll('td[data-metric]')].map((td) => Number(td.dataset.value))]));
    check(same(shownRows, answer.results.map((r) => [r.dimensions[0], ...r.metrics])), `panel ${id} exact ${JSON.stringify(shownRows)} vs ${JSON.stringify(answer.results)}`);
    check(await page.$eval(`#panel-${id}`, (n) => n.dataset.fraction === undefined && !n.querySelector('.note.sampled')), `panel ${id} has no estimate note`);
  }
  const funnelExactAsked = JSON.parse(await page.$eval('#panel-funnels', (n) => n.dataset.query));
  check(same(funnelExactAsked.include, { exact: true }), 'the funnel asks for exact figures: ' + JSON.stringify(funnelExactAsked));
  const funnelExact = await api(funnelExactAsked, '/api/v2/funnel');
  check(funnelExact.meta.sampling === undefined, 'the exact funnel is not sampled: ' + JSON.stringify(funnelExact.meta));
  check(same(await funnelSteps(page), funnelExact.steps.map((st) => st.visitors)), 'the funnel shows the exact figures');
  check(await page.$eval('#panel-funnels', (n) => n.dataset.fraction === undefined && !n.querySelector('.note.sampled')), 'the exact funnel has no estimate note');
  // A bookmark keeps it; turning it off brings the estimate back.
  await page.reload();
  await waitReady(page);
  check(await page.$eval('#exact', (n) => n.checked), 'the reloaded page still asks for exact figures');
  await page.click('#exact');
  await waitReady(page);
  check(!page.url().includes('exact=1') && !(await page.$eval('#sampling-note', (n) => n.hidden)), 'off again: estimated, and said so');
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  console.log(JSON.stringify({ share, margin: sampling.visitors_margin, estimated: estimate.results[0].metrics[0], exact: exact.results[0].metrics[0] }));
} finally {
  await browser.close();
}
