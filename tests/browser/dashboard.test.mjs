// Drives Debian's chromium (playwright-core) through the dashboard that
// tests/it/browser.rs serves: log in, compare every number on the page with
// the stats API's answer to the same question (asked here with an API key),
// filter by clicking, remove the filter, reload a bookmarked view, open a
// share link read-only and try to reach another site with it.
// Usage: node dashboard.test.mjs <collector url> <api key> <share token> <user> <password> <screenshot dir>
// Exits non-zero with a message on the first failed expectation.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [collector, apiKey, shareToken, user, password, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node dashboard.test.mjs <collector> <api key> <share token> <user> <password> <screenshot dir>');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const SITE = 'shop.test';
// Stored by tests/it/browser.rs as a campaign name: must show as text.
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const OTHER = 'other.test';

function check(ok, message) {
  if (!ok) throw new Error('expectation failed: ' + message);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function api(body) {
  const response = await fetch(collector + '/api/v2/query', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + apiKey, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  check(response.ok, `API ${JSON.stringify(body)}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

// What each panel must ask, written out here rather than read from the page.
// Leaves out the blank value, by Plausible's label for it: a missing
// property is "(none)", any other blank "(not set)".
const nonEmpty = (dim) => [['is_not', dim, [dim.startsWith('event:props:') ? '(none)' : '(not set)']]];
const PANELS = {
  pages: { metrics: ['visitors', 'pageviews'], dimensions: ['event:page'], filters: [] },
  sources: { metrics: ['visitors', 'visits'], dimensions: ['visit:channel'], filters: nonEmpty('visit:channel') },
  locations: { metrics: ['visitors', 'visits'], dimensions: ['visit:country'], filters: nonEmpty('visit:country') },
  devices: { metrics: ['visitors', 'visits'], dimensions: ['visit:browser'], filters: [] },
  goals: { metrics: ['visitors', 'events', 'conversion_rate', 'total_revenue', 'average_revenue'], dimensions: ['event:goal'], filters: [] },
  events: { metrics: ['visitors', 'events'], dimensions: ['event:name'], filters: [['is_not', 'event:name', ['pageview']]] },
};
const HEADLINE = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'];
// The pages panel adds time on page and scroll depth where they are answered.
const engagementAnswerable = (filters) => filters.every(([, dim]) => dim === 'event:page' || dim === 'event:hostname' || dim.startsWith('event:props:') || dim.startsWith('visit:'));
// The headline's cards: conversions (and revenue) under a goal filter;
// under a page filter no views per visit (not defined there) but time on
// page and scroll depth where they are answered.
function headlineCards(filters) {
  if (filters.some(([, dim]) => dim === 'event:goal')) return ['visitors', 'events', 'conversion_rate', 'total_revenue', 'average_revenue'];
  if (!filters.some(([, dim]) => dim === 'event:page')) return HEADLINE;
  const cards = ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'];
  return engagementAnswerable(filters) ? cards.concat(['time_on_page', 'scroll_depth']) : cards;
}
// Null where they do not apply: the card or column is left out then.
const OPTIONAL = ['total_revenue', 'average_revenue', 'time_on_page', 'scroll_depth'];
const plain = (v) => (v !== null && typeof v === 'object' ? v.value : v);

const waitReady = (page) => page.waitForFunction(() => {
  const board = document.querySelector('#board');
  return board && !board.hidden && board.dataset.state === 'ready';
}, null, { timeout: 30000 }).catch(async (e) => {
  // Say what the page says, not only that it timed out.
  const status = await page.$eval('#status', (n) => n.textContent).catch(() => '?');
  throw new Error(`${e.message}; the page's status: ${status}`);
});

// A period: a date_range (preset or [from, to]), or {date_range, date}
// for one anchored on another day than today.
const rangeOf = (range) => (range !== null && typeof range === 'object' && !Array.isArray(range) ? range : { date_range: range });

/** RFC 4180 rows (quoted cells, doubled quotes, CRLF). */
function parseCsv(text) {
  const rows = []; let row = []; let cell = ''; let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r') { /* CRLF */ }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  return rows;
}
const csvOf = (v) => (v === null ? '' : String(plain(v)));

/** Saves the download `click` starts and returns its text. */
async function downloaded(page, click) {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: download.suggestedFilename(), text: readFileSync(await download.path(), 'utf8') };
}

// Objects compared regardless of their keys' order.
const canon = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
// The site's today, as the API says it (set after logging in).
let TODAY = null;

/**
 * The chart: the question it asked, and each drawn bucket (and its
 * compared bucket) as the API answers it; no bucket after today, and for
 * all time none before the first with data.
 */
async function compareChart(page, filters, what, range, bucket, mode, metric) {
  const include = { time_labels: true };
  if (mode !== 'off') include.comparisons = { mode, up_to_now: true };
  const body = { site_id: SITE, ...rangeOf(range), metrics: [metric], dimensions: [bucket], include, filters };
  const asked = JSON.parse(await page.$eval('#chart', (n) => n.dataset.query));
  check(canon(asked) === canon(body), `${what}: the chart asked ${JSON.stringify(asked)}, expected ${JSON.stringify(body)}`);
  const series = await api(body);
  const found = new Map(series.results.map((r) => [r.dimensions[0], r]));
  let labels = series.meta.time_labels.filter((l) => l.slice(0, 10) <= TODAY);
  if (rangeOf(range).date_range === 'all') {
    const first = labels.findIndex((l) => found.has(l) && found.get(l).metrics[0]);
    labels = first < 0 ? [] : labels.slice(first);
  }
  const expected = labels.map((label) => {
    const r = found.get(label);
    const then = r && r.comparison ? [r.comparison.dimensions[0], r.comparison.metrics[0]] : ['', null];
    return [label, r ? r.metrics[0] : 0, ...then];
  });
  const chart = await page.$$eval('#chart-table tbody tr', (rows) => rows.map((r) => {
    const [value, thenLabel, thenValue] = r.querySelectorAll('td');
    return [r.querySelector('th').textContent, Number(value.dataset.value), thenLabel.textContent, thenValue.dataset.value === undefined ? null : Number(thenValue.dataset.value)];
  }));
  check(same(chart, expected), `${what}: chart ${JSON.stringify(chart.slice(0, 3))}… differs from the API ${JSON.stringify(expected.slice(0, 3))}…`);
  if (rangeOf(range).date_range === '30d' && !rangeOf(range).date && bucket === 'time:day') check(chart.length === 30, `${what}: a point per day (${chart.length})`);
  return expected;
}

/** Checks every number on the page against the API under `filters`. */
async function compareWithApi(page, filters, what, range = '30d', bucket = 'time:day', mode = 'previous_period', metric = 'visitors') {
  const cards = headlineCards(filters);
  const headline = await api({ site_id: SITE, ...rangeOf(range), metrics: cards, filters, include: { comparisons: { mode, up_to_now: true } } });
  const shown = await page.$$eval('#headline [data-metric]', (nodes) => nodes.map((n) => [n.dataset.metric, n.dataset.value]));
  const row = headline.results[0];
  // A change is shown where the compared period has a value; "—" where it has none.
  const present = cards.map((m, i) => [m, row.metrics[i], plain(row.comparison.metrics[i]) ? row.comparison.change[i] : null]).filter(([m, v]) => v !== null || !OPTIONAL.includes(m));
  check(same(shown, present.map(([m, v]) => [m, String(plain(v))])), `${what}: headline ${JSON.stringify(shown)} vs API ${JSON.stringify(row.metrics)}`);
  const changes = await page.$$eval('#headline [data-change]', (nodes) => nodes.map((n) => n.dataset.change));
  check(same(changes, present.map(([, , c]) => c).filter((c) => c !== null).map(String)), `${what}: changes ${JSON.stringify(changes)} vs ${JSON.stringify(row.comparison.change)}`);

  await compareChart(page, filters, what, range, bucket, mode, metric);

  // The property panel shows the most used property name first.
  const keys = await api({ site_id: SITE, ...rangeOf(range), metrics: ['visitors', 'events'], dimensions: ['event:prop_key'], filters, pagination: { limit: 20 } });
  const panels = Object.assign({}, PANELS);
  if (engagementAnswerable(filters)) {
    panels.pages = Object.assign({}, PANELS.pages, { metrics: PANELS.pages.metrics.concat(['time_on_page', 'scroll_depth']) });
  }
  if (keys.results.length) {
    const dim = 'event:props:' + keys.results[0].dimensions[0];
    panels.props = { metrics: ['visitors', 'events'], dimensions: [dim], filters: nonEmpty(dim) };
    const options = await page.$$eval('#prop-key option', (o) => o.map((x) => x.value));
    check(same(options, keys.results.map((r) => r.dimensions[0])), `${what}: property names ${JSON.stringify(options)}`);
  }
  for (const [id, spec] of Object.entries(panels)) {
    const body = { site_id: SITE, ...rangeOf(range), metrics: spec.metrics, dimensions: spec.dimensions, filters: filters.concat(spec.filters), pagination: { limit: 10 } };
    const asked = JSON.parse(await page.$eval(`#panel-${id}`, (n) => n.dataset.query));
    check(same(asked, body), `${what}: panel ${id} asked ${JSON.stringify(asked)}, expected ${JSON.stringify(body)}`);
    const answer = await api(body);
    const rows = await page.$$eval(`#panel-${id} tbody tr[data-value]`, (trs) => trs.map((tr) => [tr.dataset.value, ...[...tr.querySelectorAll('td[data-metric]')].map((td) => Number(td.dataset.value))]));
    // A column of an optional metric that no row has is left out.
    const columns = spec.metrics.map((m, i) => i).filter((i) => !OPTIONAL.includes(spec.metrics[i]) || answer.results.some((r) => r.metrics[i] !== null));
    const expected = answer.results.map((r) => [r.dimensions[0], ...columns.map((i) => plain(r.metrics[i]))]);
    check(same(rows, expected), `${what}: panel ${id} shows ${JSON.stringify(rows)}, API says ${JSON.stringify(expected)}`);
  }
  // The funnel panel: the site's first funnel, each step as the API says.
  const funnels = await (await fetch(`${collector}/api/v2/funnels?site_id=${SITE}`, { headers: { Authorization: 'Bearer ' + apiKey } })).json();
  check(funnels.funnels.length > 0, `${what}: the test site has a funnel`);
  const funnelBody = { site_id: SITE, funnel: funnels.funnels[0].name, ...rangeOf(range), filters };
  const funnelAsked = JSON.parse(await page.$eval('#panel-funnels', (n) => n.dataset.query));
  check(same(funnelAsked, funnelBody), `${what}: funnel panel asked ${JSON.stringify(funnelAsked)}`);
  const funnel = await (await fetch(`${collector}/api/v2/funnel`, { method: 'POST', headers: { Authorization: 'Bearer ' + apiKey }, body: JSON.stringify(funnelBody) })).json();
  const steps = await page.$$eval('#panel-funnels tbody tr[data-step]', (trs) => trs.map((tr) => [tr.dataset.value, ...[...tr.querySelectorAll('td[data-metric]')].map((td) => Number(td.dataset.value))]));
  check(same(steps, funnel.steps.map((st) => [st.label, st.visitors, st.conversion_rate, st.dropoff])), `${what}: funnel shows ${JSON.stringify(steps)}, API says ${JSON.stringify(funnel.steps)}`);
  const live = await (await fetch(`${collector}/api/v2/realtime?site_id=${SITE}`, { headers: { Authorization: 'Bearer ' + apiKey } })).json();
  const shownLive = await page.$eval('#live', (n) => n.dataset.value);
  check(shownLive === String(live.visitors), `${what}: live ${shownLive} vs ${live.visitors}`);
  return row.metrics;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--no-first-run'],
});
const summary = {};
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // Log in: a wrong password is refused with a message, the right one opens the board.
  await page.goto(collector + '/dashboard');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#user', user);
  await page.fill('#password', password + 'x');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  check(await page.isHidden('#board'), 'board hidden after a wrong password');
  await page.fill('#password', password);
  await page.click('#login-form button[type=submit]');
  await waitReady(page);
  check(page.url().includes('site=shop.test') && page.url().includes('period=30d'), 'the view is in the URL: ' + page.url());
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'saltmark_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie HttpOnly, SameSite=Strict: ' + JSON.stringify(cookies));
  check(!(await page.evaluate(() => document.cookie)).includes('saltmark_session'), 'scripts cannot read the session');

  TODAY = (await api({ site_id: SITE, metrics: ['visitors'], date_range: 'day' })).query.date_range[0].slice(0, 10);
  // Every number equals the API's.
  const unfiltered = await compareWithApi(page, [], 'unfiltered');
  summary.visitors = unfiltered[0];
  check(unfiltered[0] > 0, 'the seeded site has visitors');
  await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true });
  // Imported history (tests/it/browser.rs imports some): the switch adds
  // it, the page says so, and the numbers are the API's with imports.
  await page.click('#imports');
  await waitReady(page);
  check(page.url().includes('imports=1'), 'the switch is in the URL: ' + page.url());
  const importsNote = await page.$eval('#imports-note', (n) => [n.hidden, n.dataset.included, n.textContent]);
  check(same(importsNote, [false, 'true', 'Includes imported data']), 'the page says it includes imported data: ' + JSON.stringify(importsNote));
  const withImports = await api({ site_id: SITE, date_range: '30d', metrics: HEADLINE, filters: [], include: { comparisons: { mode: 'previous_period', up_to_now: true }, imports: true } });
  check(withImports.meta.imports_included === true, 'the API includes them');
  const importedCards = await page.$$eval('#headline [data-metric]', (nodes) => nodes.map((n) => [n.dataset.metric, Number(n.dataset.value)]));
  check(same(importedCards, HEADLINE.map((m, i) => [m, withImports.results[0].metrics[i]])), `headline with imports ${JSON.stringify(importedCards)} vs ${JSON.stringify(withImports.results[0].metrics)}`);
  check(withImports.results[0].metrics[0] > unfiltered[0], 'imported visitors are added');
  for (const id of ['pages', 'devices']) {
    const asked = JSON.parse(await page.$eval(`#panel-${id}`, (n) => n.dataset.query));
    check(asked.include && asked.include.imports === true, `panel ${id} asks with imports`);
    const answer = await api(asked);
    check(answer.meta.imports_included === true, `panel ${id}: imports included ${JSON.stringify(answer.meta)}`);
    const shownRows = await page.$$eval(`#panel-${id} tbody tr[data-value]`, (trs) => trs.map((tr) => [tr.dataset.value, ...[...tr.querySelectorAll('td[data-metric]')].map((td) => Number(td.dataset.value))]));
    check(same(shownRows, answer.results.map((r) => [r.dimensions[0], ...r.metrics])), `panel ${id} with imports ${JSON.stringify(shownRows)} vs ${JSON.stringify(answer.results)}`);
  }
  await page.click('#imports');
  await waitReady(page);
  check(!page.url().includes('imports=1') && await page.$eval('#imports-note', (n) => n.hidden), 'the switch turns imported data off');
  // A panel's details: every row a page at a time, more metrics, sorted,
  // searched, exported; the dialog closes with Escape.
  const detailsReady = () => page.waitForFunction(() => document.querySelector('#details').dataset.state === 'ready');
  const detailsRows = () => page.$$eval('#details-table tbody tr[data-value]', (trs) => trs.map((tr) => [tr.dataset.value, ...[...tr.querySelectorAll('td[data-metric]')].map((td) => Number(td.dataset.value))]));
  const detailsMetrics = ['visitors', 'pageviews', 'bounce_rate', 'time_on_page', 'scroll_depth'];
  const checkDetails = async (what, extra) => {
    const body = Object.assign({ site_id: SITE, date_range: '30d', metrics: detailsMetrics, dimensions: ['event:page'], filters: [], pagination: { limit: 25, offset: 0 }, include: { total_rows: true } }, extra);
    const asked = JSON.parse(await page.$eval('#details', (n) => n.dataset.query));
    check(canon(asked) === canon(body), `${what}: details asked ${JSON.stringify(asked)}`);
    const answer = await api(body);
    const columns = detailsMetrics.map((m, i) => i).filter((i) => !OPTIONAL.includes(detailsMetrics[i]) || answer.results.some((r) => r.metrics[i] !== null));
    const expected = answer.results.map((r) => [r.dimensions[0], ...columns.map((i) => plain(r.metrics[i]))]);
    check(same(await detailsRows(), expected), `${what}: details rows differ from the API`);
    check(await page.$eval('#details-page', (n) => n.dataset.total) === String(answer.meta.total_rows), `${what}: the pager's total`);
    return answer;
  };
  await page.click('#panel-pages .details-open');
  await page.waitForSelector('#details[open]');
  await detailsReady();
  const firstPage = await checkDetails('page details');
  check(firstPage.meta.total_rows > 25 && firstPage.results.length === 25, 'more pages than one page of rows: ' + firstPage.meta.total_rows);
  await page.click('#details-next');
  await page.waitForFunction(() => document.querySelector('#details').dataset.query.includes('"offset":25') && document.querySelector('#details').dataset.state === 'ready');
  await checkDetails('page details, second page', { pagination: { limit: 25, offset: 25 } });
  await page.click('#details-table th button[data-key="visitors"]');
  await page.waitForFunction(() => document.querySelector('#details').dataset.query.includes('"desc"') && document.querySelector('#details').dataset.state === 'ready');
  await page.click('#details-table th button[data-key="visitors"]');
  await page.waitForFunction(() => document.querySelector('#details').dataset.query.includes('"asc"') && document.querySelector('#details').dataset.state === 'ready');
  await checkDetails('sorted by visitors, ascending', { order_by: [['visitors', 'asc']] });
  check(await page.$eval('#details-table th[aria-sort="ascending"] button', (b) => b.dataset.key) === 'visitors', 'the sorted column says so');
  await page.fill('#details-search', 'BLOG');
  await page.waitForFunction(() => document.querySelector('#details').dataset.query.includes('BLOG') && document.querySelector('#details').dataset.state === 'ready');
  const searched = await checkDetails('searched', { order_by: [['visitors', 'asc']], filters: [['contains', 'event:page', ['BLOG'], { case_sensitive: false }]] });
  check(searched.results.length > 0 && searched.results.every((r) => r.dimensions[0].includes('/blog')), 'the search finds the blog pages');
  await page.screenshot({ path: join(shots, 'dashboard-details.png') });
  const detailsFile = await downloaded(page, () => page.click('#details-csv'));
  check(detailsFile.name.endsWith('.csv') && detailsFile.name.startsWith('shop.test-pages-'), 'a CSV file name: ' + detailsFile.name);
  const exported = parseCsv(detailsFile.text);
  const full = await api({ site_id: SITE, date_range: '30d', metrics: detailsMetrics, dimensions: ['event:page'], filters: [['contains', 'event:page', ['BLOG'], { case_sensitive: false }]], order_by: [['visitors', 'asc']], pagination: { limit: 10000, offset: 0 } });
  check(same(exported[0], ['Page', 'Unique visitors', 'Total pageviews', 'Bounce rate', 'Time on page', 'Scroll depth']), 'CSV header: ' + JSON.stringify(exported[0]));
  check(same(exported.slice(1), full.results.map((r) => [r.dimensions[0], ...r.metrics.map(csvOf)])), 'the CSV has the API\'s rows');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#details').open);
  // The whole dashboard as one CSV: every report of the view, and a
  // value a spreadsheet would run as a formula written as text.
  const everything = await downloaded(page, () => page.click('#export-all'));
  const sections = everything.text.split('\r\n\r\n').map((part) => parseCsv(part.endsWith('\r\n') ? part : part + '\r\n'));
  const titles = sections.map((rows) => rows[0][0]);
  for (const title of ['Top stats', 'Unique visitors per day', 'Pages: Top pages', 'Sources: Campaigns', 'Locations: Countries', 'Devices: OS versions', 'Goal conversions: Goals', 'Custom events: Events']) {
    check(titles.includes(title), `the dashboard CSV has ${title}: ${JSON.stringify(titles)}`);
  }
  const topStats = await api({ site_id: SITE, date_range: '30d', metrics: HEADLINE, filters: [] });
  check(same(sections[0].slice(2).map((r) => r[1]), topStats.results[0].metrics.map(csvOf)), 'top stats in the CSV are the API\'s');
  const campaigns = sections.find((rows) => rows[0][0] === 'Sources: Campaigns');
  check(campaigns.some((r) => r[0] === "'=1+1"), 'a formula-like value is written as text: ' + JSON.stringify(campaigns.slice(0, 4)));

  // Realtime: the badge opens the last 30 minutes, per minute, with top
  // pages, sources and countries, each the API's; refreshed while open.
  await page.focus('#live');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#realtime[open]');
  await page.waitForFunction(() => document.querySelector('#realtime').dataset.state === 'ready');
  const checkRealtime = async () => {
    const seriesBody = JSON.parse(await page.$eval('#realtime', (n) => n.dataset.query));
    check(seriesBody.dimensions[0] === 'time:minute' && Date.parse(seriesBody.date_range[1]) - Date.parse(seriesBody.date_range[0]) === 30 * 60000, 'realtime asks per minute for 30 minutes: ' + JSON.stringify(seriesBody));
    const series = await api(seriesBody);
    const perMinute = new Map(series.results.map((r) => [r.dimensions[0], r.metrics[0]]));
    const bars = await page.$$eval('#realtime-svg rect', (rs) => rs.map((r) => [r.dataset.label, Number(r.dataset.value)]));
    check(same(bars, series.meta.time_labels.map((l) => [l, perMinute.get(l) || 0])), 'realtime bars are the API\'s minutes');
    const listBodies = JSON.parse(await page.$eval('#realtime', (n) => n.dataset.lists));
    for (const body of listBodies) {
      const answer = await api(body);
      const shown = await page.$$eval(`#realtime-lists section[data-dimension="${body.dimensions[0]}"] tbody tr[data-value]`, (trs) => trs.map((tr) => [tr.dataset.value, Number(tr.querySelector('td').dataset.value)]));
      check(same(shown, answer.results.map((r) => [r.dimensions[0], r.metrics[0]])), `realtime ${body.dimensions[0]}: ${JSON.stringify(shown)}`);
    }
    return listBodies;
  };
  await checkRealtime();
  const refreshed = Number(await page.$eval('#realtime', (n) => n.dataset.refreshes));
  const beacon = await fetch(collector + '/api/event', {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' },
    body: JSON.stringify({ n: 'pageview', u: 'http://shop.test/realtime-check', d: 'shop.test' }),
  });
  check(beacon.status === 202, 'a live page view is accepted: ' + beacon.status);
  await page.waitForFunction((n) => Number(document.querySelector('#realtime').dataset.refreshes) > n
    && document.querySelector('#realtime').dataset.state === 'ready'
    && document.querySelector('#realtime-lists tr[data-value="/realtime-check"]'), refreshed, { timeout: 40000 });
  await checkRealtime();
  await page.screenshot({ path: join(shots, 'dashboard-realtime.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#realtime').open);

  // The chart: another metric, another interval, and a readout by keyboard.
  const chartReady = (metric, interval) => page.waitForFunction(([m, i]) => {
    const chart = document.querySelector('#chart');
    return chart.dataset.state === 'ready' && location.search.includes('metric=' + m) && location.search.includes('interval=' + encodeURIComponent(i)) === (i !== '');
  }, [metric, interval]);
  await page.selectOption('#chart-metric', 'bounce_rate');
  await chartReady('bounce_rate', '');
  await compareChart(page, [], 'bounce rate chart', '30d', 'time:day', 'previous_period', 'bounce_rate');
  await page.selectOption('#chart-interval', 'time:week');
  await chartReady('bounce_rate', 'time:week');
  await compareChart(page, [], 'weekly bounce rate', '30d', 'time:week', 'previous_period', 'bounce_rate');
  await page.selectOption('#chart-metric', 'visitors');
  await page.selectOption('#chart-interval', 'time:day');
  await chartReady('visitors', 'time:day');
  const daily = await compareChart(page, [], 'daily visitors', '30d', 'time:day', 'previous_period', 'visitors');
  await page.focus('#chart-svg svg');
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  const readout = await page.$eval('#chart-readout', (n) => [n.dataset.label, Number(n.dataset.value), n.dataset.then === '' ? null : Number(n.dataset.then)]);
  const penultimate = daily[daily.length - 2];
  check(same(readout, [penultimate[0], penultimate[1], penultimate[3]]), `the readout says the day before last: ${JSON.stringify(readout)} vs ${JSON.stringify(penultimate)}`);
  check(await page.$$eval('#chart-svg polyline', (lines) => lines.length) === 2, 'the compared period is a second line');
  // DB-IP's data is credited where locations are shown (CC BY 4.0).
  const credit = await page.$eval('#panel-locations #geo-credit', (n) => [n.textContent, n.querySelector('a').href]);
  check(same(credit, ['IP geolocation by DB-IP (CC BY 4.0)', 'https://db-ip.com/']), 'DB-IP credit: ' + JSON.stringify(credit));

  // Another site is out of reach for this user, in the page's own session.
  const otherStatus = await page.evaluate(async (site) => (await fetch('/api/v2/query', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ site_id: site, metrics: ['visitors'], date_range: '30d' }),
  })).status, OTHER);
  check(otherStatus === 403, 'user session on another site: ' + otherStatus);

  // Clicking a country filters the whole page; the chip and the URL show it.
  const country = await page.$eval('#panel-locations tbody tr[data-value]', (tr) => tr.dataset.value);
  await page.click(`#panel-locations tbody tr[data-value="${country}"] .row-filter`);
  await page.waitForFunction((c) => location.search.includes('visit%3Acountry=' + c) && document.querySelector('#board').dataset.state === 'ready', country);
  const chips = await page.$$eval('#chips .chip', (nodes) => nodes.map((n) => [n.dataset.dim, n.dataset.value, n.getAttribute('aria-label')]));
  check(chips.length === 1 && chips[0][0] === 'visit:country' && chips[0][1] === country && chips[0][2].startsWith('Remove filter'), 'chip: ' + JSON.stringify(chips));
  const byCountry = [['is', 'visit:country', [country]]];
  const filtered = await compareWithApi(page, byCountry, 'country filter');
  check(filtered[0] < unfiltered[0] && filtered[2] < unfiltered[2], `the filter narrows: ${filtered} < ${unfiltered}`);
  // Every panel now lists only that country (the locations panel itself included).
  const countries = await page.$$eval('#panel-locations tbody tr[data-value]', (trs) => trs.map((tr) => tr.dataset.value));
  check(same(countries, [country]), 'locations narrowed to the filter: ' + JSON.stringify(countries));

  // A second filter by keyboard: focus a browser row and press Enter.
  const browserName = await page.$eval('#panel-devices tbody tr[data-value]', (tr) => tr.dataset.value);
  await page.focus(`#panel-devices tbody tr[data-value="${browserName}"] .row-filter`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.search.includes('visit%3Abrowser=') && document.querySelector('#board').dataset.state === 'ready');
  const both = byCountry.concat([['is', 'visit:browser', [browserName]]]);
  await compareWithApi(page, both, 'country and browser');

  // The view is bookmarkable: a fresh load of the URL shows the same.
  const bookmarked = page.url();
  await page.goto('about:blank');
  await page.goto(bookmarked);
  await waitReady(page);
  check((await page.$$('#chips .chip')).length === 2, 'both chips after reload');
  await compareWithApi(page, both, 'bookmarked view');

  // Data is text, never markup: a hostile campaign name as a filter chip and a row.
  // It was sent today, and "30d" ends yesterday (as in Plausible): ask for today.
  await page.goto(`${collector}/dashboard?site=${SITE}&period=day&tab_sources=3&visit:utm_campaign=${encodeURIComponent(HOSTILE)}`);
  await waitReady(page);
  // Today's chart stops at the current hour: no hours still to come.
  const hours = await page.$$eval('#chart-table tbody th', (ths) => ths.map((th) => th.textContent));
  const hourOf = (ms) => new Date(ms).toISOString().slice(0, 13).replace('T', ' ') + ':00:00';
  const thisHour = hourOf(Date.now());
  const lastHour = hours[hours.length - 1];
  // (the hour before too: the page may have loaded just before the hour turned)
  check(hours.every((h) => h <= thisHour) && (lastHour === thisHour || lastHour === hourOf(Date.now() - 3600000)), `today's hours end now: ${lastHour} vs ${thisHour}`);
  const chip = await page.$eval('#chips .chip', (n) => [n.dataset.value, n.textContent]);
  check(chip[0] === HOSTILE && chip[1].includes(HOSTILE), 'hostile chip shown as text: ' + JSON.stringify(chip));
  const campaignRows = await page.$$eval('#panel-sources tbody tr[data-value]', (trs) => trs.map((tr) => [tr.dataset.value, tr.querySelector('.row-filter').textContent]));
  check(same(campaignRows, [[HOSTILE, HOSTILE]]), 'hostile campaign row as text: ' + JSON.stringify(campaignRows));
  check(await page.evaluate(() => window.__pwned === undefined && document.querySelectorAll('main img').length === 0), 'no markup from data ran');
  await page.goto(bookmarked);
  await waitReady(page);

  // Removing the chips returns to the whole site.
  await page.click('#chips .chip[data-dim="visit:browser"]');
  await page.waitForFunction(() => !location.search.includes('visit%3Abrowser') && document.querySelector('#board').dataset.state === 'ready');
  await compareWithApi(page, byCountry, 'browser chip removed');
  await page.click('#chips .chip[data-dim="visit:country"]');
  await page.waitForFunction(() => !location.search.includes('visit%3A') && document.querySelector('#board').dataset.state === 'ready');
  check(same(await compareWithApi(page, [], 'all chips removed'), unfiltered), 'back to the unfiltered numbers');

  // The filter menu, by keyboard: every dimension, is / is not / contains /
  // does not contain, several values, suggestions from the API; a chip
  // opens its filter again for editing, and the URL keeps it.
  await page.focus('#filter-add');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#filter-dialog[open]');
  await page.selectOption('#filter-dim', 'visit:country');
  const topCountries = await api({ site_id: SITE, date_range: '30d', metrics: ['visitors'], dimensions: ['visit:country'], filters: [], pagination: { limit: 10 } });
  await page.waitForFunction((n) => document.querySelectorAll('#filter-suggestions .suggestion').length === n, topCountries.results.length);
  const suggested = await page.$$eval('#filter-suggestions .suggestion', (b) => b.map((x) => x.dataset.value));
  check(same(suggested, topCountries.results.map((r) => r.dimensions[0])), 'suggestions are the top values: ' + JSON.stringify(suggested));
  await page.selectOption('#filter-op', 'is_not');
  await page.focus(`#filter-suggestions .suggestion[data-value="${suggested[0]}"]`);
  await page.keyboard.press('Enter');
  await page.focus(`#filter-suggestions .suggestion[data-value="${suggested[1]}"]`);
  await page.keyboard.press('Enter');
  check(await page.$eval('#filter-values', (n) => n.value) === `${suggested[0]}\n${suggested[1]}`, 'suggestions add values');
  await page.focus('#filter-apply');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.search.includes('f=') && document.querySelector('#board').dataset.state === 'ready');
  const notTop = [['is_not', 'visit:country', [suggested[0], suggested[1]]]];
  const excluded = await compareWithApi(page, notTop, 'is not two countries');
  check(excluded[0] < unfiltered[0], 'excluding countries narrows');
  const chipText = await page.$eval('#chips .chip-edit', (n) => n.textContent);
  check(chipText.includes(' is not ') && chipText.includes(' or '), 'the chip says the operator and both values: ' + chipText);
  // Edit it into a page filter with "contains".
  await page.click('#chips .chip-edit');
  await page.waitForSelector('#filter-dialog[open]');
  check(await page.$eval('#filter-op', (n) => n.value) === 'is_not', 'the menu opens with the chip\'s filter');
  await page.selectOption('#filter-dim', 'event:page');
  await page.selectOption('#filter-op', 'contains');
  await page.fill('#filter-values', '/blog');
  await page.click('#filter-apply');
  await page.waitForFunction(() => document.querySelector('#chips .chip[data-dim="event:page"]') && document.querySelector('#board').dataset.state === 'ready');
  await compareWithApi(page, [['contains', 'event:page', ['/blog']]], 'page contains');
  // A property filter, added beside it: does not contain.
  await page.click('#filter-add');
  await page.selectOption('#filter-dim', 'prop');
  await page.fill('#filter-prop', 'plan');
  await page.dispatchEvent('#filter-prop', 'change');
  await page.selectOption('#filter-op', 'contains_not');
  await page.fill('#filter-values', 'fre');
  await page.click('#filter-apply');
  await page.waitForFunction(() => document.querySelectorAll('#chips .chip').length === 2 && document.querySelector('#board').dataset.state === 'ready');
  const menuFilters = [['contains', 'event:page', ['/blog']], ['contains_not', 'event:props:plan', ['fre']]];
  await compareWithApi(page, menuFilters, 'page and property');
  const menuUrl = page.url();
  await page.goto('about:blank');
  await page.goto(menuUrl);
  await waitReady(page);
  await compareWithApi(page, menuFilters, 'menu filters after reload');
  await page.screenshot({ path: join(shots, 'dashboard-filters.png') });
  await page.click('#chips .chip[data-dim="event:props:plan"]');
  await page.waitForFunction(() => document.querySelectorAll('#chips .chip').length === 1 && document.querySelector('#board').dataset.state === 'ready');
  await page.click('#chips .chip[data-dim="event:page"]');
  await page.waitForFunction(() => document.querySelectorAll('#chips .chip').length === 0 && document.querySelector('#board').dataset.state === 'ready');

  // A goal: its row in the Goal conversions panel filters the page, and the
  // headline counts conversions; the chip takes it away again.
  const goals = await page.$$eval('#panel-goals tbody tr[data-value]', (trs) => trs.map((tr) => tr.dataset.value));
  check(goals.includes('Signup') && goals.includes('Visit /pricing'), 'the configured goals are listed: ' + JSON.stringify(goals));
  await page.click('#panel-goals tbody tr[data-value="Signup"] .row-filter');
  await page.waitForFunction(() => location.search.includes('event%3Agoal=Signup') && document.querySelector('#board').dataset.state === 'ready');
  const labels = await page.$$eval('#headline .stat-label', (nodes) => nodes.map((n) => n.textContent));
  check(same(labels.slice(0, 3), ['Unique conversions', 'Total conversions', 'Conversion rate']), 'conversion cards: ' + JSON.stringify(labels));
  await compareWithApi(page, [['is', 'event:goal', ['Signup']]], 'goal filter');
  await page.screenshot({ path: join(shots, 'dashboard-goal.png'), fullPage: true });
  await page.click('#chips .chip[data-dim="event:goal"]');
  await page.waitForFunction(() => !location.search.includes('event%3Agoal') && document.querySelector('#board').dataset.state === 'ready');
  // A revenue goal: its row shows revenue, and filtered by it the headline
  // shows total and average revenue in its currency.
  const revenueRow = await page.$$eval('#panel-goals tbody tr[data-value="Purchase"] td[data-metric]', (tds) => tds.map((td) => td.dataset.metric));
  check(same(revenueRow, ['visitors', 'events', 'conversion_rate', 'total_revenue', 'average_revenue']), 'the goals panel has revenue columns: ' + JSON.stringify(revenueRow));
  await page.click('#panel-goals tbody tr[data-value="Purchase"] .row-filter');
  await page.waitForFunction(() => location.search.includes('event%3Agoal=Purchase') && document.querySelector('#board').dataset.state === 'ready');
  const purchase = await compareWithApi(page, [['is', 'event:goal', ['Purchase']]], 'revenue goal filter');
  check(purchase[3] !== null && purchase[3].currency === 'EUR' && purchase[3].value > 0, 'purchases have revenue in euros: ' + JSON.stringify(purchase[3]));
  const revenueText = await page.$eval('#headline [data-metric="total_revenue"]', (n) => n.textContent);
  check(revenueText === purchase[3].long, `revenue shown as the API writes it: ${revenueText} vs ${purchase[3].long}`);
  await page.click('#chips .chip[data-dim="event:goal"]');
  await page.waitForFunction(() => !location.search.includes('event%3Agoal') && document.querySelector('#board').dataset.state === 'ready');
  // A page: the headline adds time on page and scroll depth for it.
  await page.click('#panel-pages tbody tr[data-value="/pricing"] .row-filter');
  await page.waitForFunction(() => location.search.includes('event%3Apage=') && document.querySelector('#board').dataset.state === 'ready');
  const paged = await compareWithApi(page, [['is', 'event:page', ['/pricing']]], 'page filter');
  check(paged[5] > 0 && paged[6] > 0, 'the pricing page has time on page and scroll depth: ' + JSON.stringify(paged));
  const engagementCards = await page.$$eval('#headline .stat-label', (nodes) => nodes.map((n) => n.textContent));
  check(engagementCards.includes('Time on page') && engagementCards.includes('Scroll depth') && !engagementCards.includes('Views per visit'), 'page cards: ' + JSON.stringify(engagementCards));
  await page.screenshot({ path: join(shots, 'dashboard-page.png'), fullPage: true });
  await page.click('#chips .chip[data-dim="event:page"]');
  await page.waitForFunction(() => !location.search.includes('event%3Apage') && document.querySelector('#board').dataset.state === 'ready');

  // Other periods: 12 months by month, and a custom range typed in.
  await page.selectOption('#period', '12mo');
  await page.waitForFunction(() => location.search.includes('period=12mo') && document.querySelector('#board').dataset.state === 'ready');
  const year = await compareWithApi(page, [], '12 months', '12mo', 'time:month');
  // 12mo ends with the month before this one, so early in a month it holds
  // fewer of the seed's days than 30d: it is checked against the month it
  // ends with, which the seed's 40 days always reach into.
  const yearRange = (await api({ site_id: SITE, date_range: '12mo', metrics: ['visitors'] })).query.date_range;
  const lastDay = yearRange[1].slice(0, 10);
  const endingMonth = (await api({ site_id: SITE, date_range: [lastDay.slice(0, 8) + '01', lastDay], metrics: ['visitors'] })).results[0].metrics[0];
  check(endingMonth > 0 && year[0] >= endingMonth, `12 months has at least the visitors of the month it ends with: ${year[0]} vs ${endingMonth}`);
  await page.selectOption('#period', 'custom');
  await page.waitForSelector('#custom', { state: 'visible' });
  const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
  await page.fill('#from', day(9));
  await page.fill('#to', day(2));
  await page.click('#custom button[type=submit]');
  await page.waitForFunction((from) => location.search.includes('from=' + from) && document.querySelector('#board').dataset.state === 'ready', day(9));
  await compareWithApi(page, [], 'custom range', [day(9), day(2)], 'time:day');
  // Yesterday, last month and all time, each as the API answers it; the
  // arrows step a period back and forth, and not past today.
  const today = (await api({ site_id: SITE, metrics: ['visitors'], date_range: 'day' })).query.date_range[0].slice(0, 10);
  const shift = (d, n) => new Date(Date.parse(d + 'T00:00:00Z') + n * 86400000).toISOString().slice(0, 10);
  await page.selectOption('#period', 'yesterday');
  await page.waitForFunction(() => location.search.includes('period=yesterday') && document.querySelector('#board').dataset.state === 'ready');
  await compareWithApi(page, [], 'yesterday', { date_range: 'day', date: shift(today, -1) }, 'time:hour');
  check(await page.$eval('#period-range', (n) => n.dataset.from === n.dataset.to && n.dataset.from) === shift(today, -1), 'yesterday is one day, the day before today');
  await page.selectOption('#period', 'last_month');
  await page.waitForFunction(() => location.search.includes('period=last_month') && document.querySelector('#board').dataset.state === 'ready');
  const lastMonth = new Date(Date.parse(today.slice(0, 7) + '-01T00:00:00Z'));
  lastMonth.setUTCMonth(lastMonth.getUTCMonth() - 1);
  await compareWithApi(page, [], 'last month', { date_range: 'month', date: lastMonth.toISOString().slice(0, 10) });
  await page.selectOption('#period', 'all');
  await page.waitForFunction(() => location.search.includes('period=all') && document.querySelector('#board').dataset.state === 'ready');
  const all = await compareWithApi(page, [], 'all time', 'all', 'time:month');
  check(all[0] >= year[0], `all time has at least the visitors of 12 months: ${all[0]} vs ${year[0]}`);
  check(await page.isDisabled('#period-prev') && await page.isDisabled('#period-next'), 'all time has no arrows');
  await page.selectOption('#period', '30d');
  await waitReady(page);
  check(await page.isDisabled('#period-next'), 'nothing after today');
  // Back by keyboard: focus the arrow and press Enter.
  await page.focus('#period-prev');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.search.includes('date=') && document.querySelector('#board').dataset.state === 'ready');
  const back = new URL(page.url()).searchParams.get('date');
  check(back === shift(today, -30), `30 days back anchors 30 days before today: ${back}`);
  const earlier = await compareWithApi(page, [], '30 days before', { date_range: '30d', date: back });
  check(earlier[0] > 0, 'the seeded 40 days reach into the 30 days before');
  await page.click('#period-next');
  await page.waitForFunction(() => !location.search.includes('date=') && document.querySelector('#board').dataset.state === 'ready');
  check(same(await compareWithApi(page, [], 'forward again'), unfiltered), 'forward again is the last 30 days');
  // Compared with the year before: the changes are the API's in that mode.
  await page.selectOption('#compare', 'year_over_year');
  await page.waitForFunction(() => location.search.includes('compare=year_over_year') && document.querySelector('#board').dataset.state === 'ready');
  await compareWithApi(page, [], 'year over year', '30d', 'time:day', 'year_over_year');
  // The seeded data has no year before: every card says "—", not "↑ 100%".
  const yoy = await page.$$eval('#headline .change', (nodes) => nodes.map((n) => [n.textContent, n.title]));
  check(yoy.length === HEADLINE.length && yoy.every(([text, title]) => text === '—' && title === 'Nothing to compare with in the year before'), 'nothing to compare with: ' + JSON.stringify(yoy));
  // Day of week matched: the API's changes with match_day_of_week.
  await page.check('#match-weekday');
  await page.waitForFunction(() => location.search.includes('match_weekday=1') && document.querySelector('#board').dataset.state === 'ready');
  const matched = await api({ site_id: SITE, date_range: '30d', metrics: HEADLINE, include: { comparisons: { mode: 'year_over_year', match_day_of_week: true, up_to_now: true } } });
  const matchedShown = await page.$$eval('#headline [data-change]', (nodes) => nodes.map((n) => n.dataset.change));
  const matchedRow = matched.results[0].comparison;
  check(same(matchedShown, matchedRow.change.filter((c, i) => c !== null && plain(matchedRow.metrics[i])).map(String)), 'matched weekdays: ' + JSON.stringify(matchedShown));
  await page.uncheck('#match-weekday');
  await waitReady(page);
  await page.selectOption('#compare', 'previous_period');
  await waitReady(page);

  // Phone width (390 px): nothing wider than the screen, the same numbers,
  // and the dialogs fit; by keyboard.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 390, 'no horizontal scrolling at 390 px: ' + overflow);
  check(same(await compareWithApi(page, [], 'phone'), unfiltered), 'the phone shows the same numbers');
  await page.screenshot({ path: join(shots, 'dashboard-phone.png') });
  await page.focus('#panel-sources .details-open');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#details[open]');
  await detailsReady();
  const fits = (id) => page.$eval(id, (d) => { const r = d.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; });
  check(await fits('#details'), 'the details dialog fits the phone');
  const channelRows = await page.$$eval('#details-table tbody tr[data-value]', (trs) => trs.map((tr) => tr.dataset.value));
  const channels = await api({ site_id: SITE, date_range: '30d', metrics: ['visitors'], dimensions: ['visit:channel'], filters: nonEmpty('visit:channel'), pagination: { limit: 25 } });
  check(same(channelRows, channels.results.map((r) => r.dimensions[0])), 'channel details on the phone: ' + JSON.stringify(channelRows));
  await page.screenshot({ path: join(shots, 'dashboard-phone-details.png') });
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#details').open);
  await page.focus('#filter-add');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#filter-dialog[open]');
  check(await fits('#filter-dialog'), 'the filter menu fits the phone');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#filter-dialog').open);
  await page.focus('#live');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#realtime').dataset.state === 'ready');
  check(await fits('#realtime'), 'the realtime view fits the phone');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#realtime').open);
  check(errors.length === 0, 'no page errors: ' + errors.join('; '));

  // The share link: read-only, one site, no session.
  const guest = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const shared = await guest.newPage();
  shared.on('pageerror', (e) => errors.push(String(e)));
  const shareRequests = [];
  shared.on('request', (r) => shareRequests.push(r.url()));
  await shared.goto(`${collector}/share#${shareToken}`);
  await waitReady(shared);
  check(await shared.isVisible('#readonly'), 'the read-only badge shows');
  check(await shared.isVisible('#panel-locations #geo-credit'), 'the credit shows on a share link too');
  check(await shared.isHidden('#logout') && await shared.isHidden('#shares'), 'no logout, no share management');
  check(same(await shared.$$eval('#site option', (o) => o.map((x) => x.value)), [SITE]), 'only the shared site');
  check(same(await compareWithApi(shared, [], 'share link'), unfiltered), 'the share link shows the same numbers');
  check(shareRequests.every((u) => !u.includes(shareToken)), 'the token never travels in a URL');
  check((await guest.cookies()).length === 0, 'a share link sets no cookie');
  const reach = await shared.evaluate(async ([token, other]) => {
    const headers = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' };
    const query = await fetch('/api/v2/query', { method: 'POST', headers, body: JSON.stringify({ site_id: other, metrics: ['visitors'], date_range: '30d' }) });
    const live = await fetch('/api/v2/realtime?site_id=' + other, { headers });
    const create = await fetch('/api/dashboard/shares', { method: 'POST', headers, body: JSON.stringify({ site: 'shop.test' }) });
    const list = await fetch('/api/dashboard/shares', { headers });
    return [query.status, live.status, create.status, list.status];
  }, [shareToken, OTHER]);
  check(same(reach, [403, 403, 403, 403]), 'share link: other site and management refused: ' + JSON.stringify(reach));
  check(errors.length === 0, 'no page errors: ' + errors.join('; '));

  // Share links made in the page: a label, a copy button, and a revoked
  // link gone from the list and from use.
  await page.setViewportSize({ width: 1440, height: 900 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: collector });
  const existing = await page.$$eval('#share-list li', (lis) => lis.length);
  await page.fill('#share-label', 'Marketing team');
  await page.focus('#share-label');
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('#share-list li').length === n + 1, existing);
  const made = await page.$eval('#share-url', (n) => n.value);
  check(made.startsWith(collector + '/share#'), 'the new link is shown: ' + made);
  await page.click('#share-copy');
  await page.waitForFunction(() => document.querySelector('#share-copied').textContent === 'Copied');
  check(await page.evaluate(() => navigator.clipboard.readText()) === made, 'the copy button copies the link');
  const labelled = await page.$$eval('#share-list li', (lis) => lis.map((li) => [li.dataset.label, li.textContent]));
  check(labelled.some(([label, text]) => label === 'Marketing team' && text.startsWith('Marketing team')), 'the label is listed: ' + JSON.stringify(labelled));
  const visitor = await guest.newPage();
  await visitor.goto(made);
  await waitReady(visitor);
  check(same(await compareWithApi(visitor, [], 'new share link'), unfiltered), 'the new link shows the site');
  await page.click('#share-list li[data-label="Marketing team"] button');
  await page.waitForFunction((n) => document.querySelectorAll('#share-list li').length === n, existing);
  check(!(await page.$$eval('#share-list li', (lis) => lis.map((li) => li.dataset.label))).includes('Marketing team'), 'a revoked link leaves the list');
  await visitor.goto('about:blank');
  await visitor.goto(made);
  await visitor.waitForFunction(() => document.querySelector('#status').textContent.includes('revoked'));
  check(await visitor.isHidden('#board'), 'a revoked link shows nothing');
  await page.screenshot({ path: join(shots, 'dashboard-shares.png') });

  // Logging out ends the session on the server, not only in the browser.
  const before = (await context.cookies()).find((c) => c.name === 'saltmark_session').value;
  await page.click('#logout');
  await page.waitForSelector('#login-form', { state: 'visible' });
  const replay = await fetch(collector + '/api/dashboard/me', { headers: { Cookie: 'saltmark_session=' + before } });
  check(replay.status === 401, 'the old session is dead after logout: ' + replay.status);
  summary.country = country;
  summary.browser = browserName;
  console.log(JSON.stringify(summary));
} finally {
  await browser.close();
}
