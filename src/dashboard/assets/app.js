// saltmark dashboard. Every number on the page is an answer of the stats
// API (POST /api/v2/query, GET /api/v2/realtime), rendered as given: the
// page computes nothing but the bar widths. The view (site, period,
// filters, property) lives in the URL's query string, so any view can be
// bookmarked and shared; a share link's token lives in the fragment, which
// browsers never send to a server. Text from the data is only ever set with
// textContent.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  };
  const SVG = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  };

  // The filter menu's operators (the stats API's), in words.
  const OPERATORS = { is: 'is', is_not: 'is not', contains: 'contains', contains_not: 'does not contain' };
  const PERIODS = ['day', 'yesterday', '7d', '30d', 'month', 'last_month', '12mo', 'all', 'custom'];
  // Periods the arrows step through, by moving the anchor day (the API's
  // `date`): how far one step goes, in days or months.
  const STEPS = { day: { days: 1 }, '7d': { days: 7 }, '30d': { days: 30 }, month: { months: 1 }, '12mo': { months: 12 } };
  // What the headline's changes compare with (Plausible's modes).
  const COMPARISONS = { previous_period: 'the previous period', year_over_year: 'the year before', off: '' };
  const LIST_LIMIT = 10;
  const DIMENSION_NAMES = {
    'event:page': 'Page', 'event:name': 'Event', 'event:goal': 'Goal',
    'visit:entry_page': 'Entry page', 'visit:exit_page': 'Exit page',
    'visit:source': 'Source', 'visit:referrer': 'Referrer', 'visit:channel': 'Channel',
    'visit:utm_campaign': 'UTM campaign', 'visit:utm_source': 'UTM source', 'visit:utm_medium': 'UTM medium',
    'visit:country': 'Country', 'visit:region': 'Region', 'visit:city': 'City',
    'visit:region_name': 'Region', 'visit:city_name': 'City',
    'visit:browser': 'Browser', 'visit:os': 'Operating system', 'visit:device': 'Device',
    'visit:utm_content': 'UTM content', 'visit:utm_term': 'UTM term',
    'visit:browser_version': 'Browser version', 'visit:os_version': 'OS version',
  };
  const METRIC_NAMES = {
    visitors: 'Unique visitors', visits: 'Total visits', pageviews: 'Total pageviews',
    views_per_visit: 'Views per visit', bounce_rate: 'Bounce rate', visit_duration: 'Visit duration', events: 'Total events',
    conversion_rate: 'Conversion rate', time_on_page: 'Time on page', scroll_depth: 'Scroll depth',
    total_revenue: 'Total revenue', average_revenue: 'Average revenue',
    percentage: 'Share', exit_rate: 'Exit rate',
  };
  // Under a goal filter the headline counts conversions (Plausible's cards).
  const GOAL_METRIC_NAMES = {
    visitors: 'Unique conversions', events: 'Total conversions', conversion_rate: 'Conversion rate',
    total_revenue: 'Total revenue', average_revenue: 'Average revenue',
  };
  // Time on page and scroll depth are answered with page, hostname,
  // property and visit filters (docs/api.md): the pages panel asks for them then.
  const ENGAGEMENT = ['time_on_page', 'scroll_depth'];
  // Metrics that are null where they do not apply (revenue of goals without
  // a currency, engagement nobody sent): a card or column is left out then.
  const OPTIONAL = ['total_revenue', 'average_revenue', 'time_on_page', 'scroll_depth'];
  const engagementAnswerable = (filters) => filters.every((f) => f.dim === 'event:page' || f.dim === 'event:hostname' || f.dim.startsWith('event:props:') || f.dim.startsWith('visit:'));
  const goalFiltered = () => view.filters.some((f) => f.dim === 'event:goal');
  // Panels: each tab is one stats API query grouped by one dimension.
  // Leaves out the blank value, by Plausible's label for it: a missing
  // property is "(none)", any other blank "(not set)".
  const nonEmpty = (dim) => [['is_not', dim, [dim.startsWith('event:props:') ? '(none)' : '(not set)']]];
  const PANELS = [
    { id: 'pages', title: 'Pages', tabs: [
      { label: 'Top pages', dim: 'event:page', metrics: ['visitors', 'pageviews'], engagement: true },
      { label: 'Entry pages', dim: 'visit:entry_page', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:entry_page') },
      { label: 'Exit pages', dim: 'visit:exit_page', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:exit_page') },
    ] },
    { id: 'sources', title: 'Sources', tabs: [
      { label: 'Channels', dim: 'visit:channel', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:channel') },
      { label: 'Sources', dim: 'visit:source', metrics: ['visitors', 'visits'] },
      { label: 'Referrers', dim: 'visit:referrer', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:referrer') },
      { label: 'Campaigns', dim: 'visit:utm_campaign', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:utm_campaign') },
      { label: 'UTM sources', dim: 'visit:utm_source', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:utm_source') },
      { label: 'UTM mediums', dim: 'visit:utm_medium', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:utm_medium') },
      { label: 'UTM contents', dim: 'visit:utm_content', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:utm_content') },
      { label: 'UTM terms', dim: 'visit:utm_term', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:utm_term') },
    ] },
    { id: 'locations', title: 'Locations', tabs: [
      { label: 'Countries', dim: 'visit:country', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:country') },
      { label: 'Regions', dim: 'visit:region_name', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:region_name') },
      { label: 'Cities', dim: 'visit:city_name', metrics: ['visitors', 'visits'], filters: nonEmpty('visit:city_name') },
    ] },
    { id: 'devices', title: 'Devices', tabs: [
      { label: 'Browsers', dim: 'visit:browser', metrics: ['visitors', 'visits'] },
      { label: 'Browser versions', dim: 'visit:browser', dims: ['visit:browser', 'visit:browser_version'], metrics: ['visitors', 'visits'] },
      { label: 'Operating systems', dim: 'visit:os', metrics: ['visitors', 'visits'] },
      { label: 'OS versions', dim: 'visit:os', dims: ['visit:os', 'visit:os_version'], metrics: ['visitors', 'visits'] },
      { label: 'Devices', dim: 'visit:device', metrics: ['visitors', 'visits'] },
    ] },
    { id: 'goals', title: 'Goal conversions', tabs: [
      { label: 'Goals', dim: 'event:goal', metrics: ['visitors', 'events', 'conversion_rate', 'total_revenue', 'average_revenue'],
        columns: { visitors: 'Uniques', events: 'Total', conversion_rate: 'CR', total_revenue: 'Revenue', average_revenue: 'Average' } },
    ] },
    { id: 'events', title: 'Custom events', tabs: [
      { label: 'Events', dim: 'event:name', metrics: ['visitors', 'events'], filters: [['is_not', 'event:name', ['pageview']]] },
    ] },
  ];

  // ---- state: the URL is the source of truth -------------------------------
  const auth = { mode: null, token: null, sites: [], credit: null };
  function readView() {
    const params = new URLSearchParams(location.search);
    const filters = [];
    for (const [key, value] of params) {
      // `dim=value` is "is"; any other filter is `f=[op, dim, [values]]`.
      if (key.includes(':') && DIMENSION_NAMES[key] !== undefined || key.startsWith('event:props:')) {
        filters.push({ op: 'is', dim: key, values: [value] });
      } else if (key === 'f') {
        try {
          const [op, dim, values] = JSON.parse(value);
          if (OPERATORS[op] && (DIMENSION_NAMES[dim] !== undefined || String(dim).startsWith('event:props:'))
            && Array.isArray(values) && values.length && values.every((v) => typeof v === 'string')) {
            filters.push({ op, dim, values });
          }
        } catch (e) { /* a hand-edited URL: that filter is left out */ }
      }
    }
    let period = params.get('period') || '30d';
    if (!PERIODS.includes(period)) period = '30d';
    let compare = params.get('compare') || 'previous_period';
    if (!(compare in COMPARISONS)) compare = 'previous_period';
    return {
      site: params.get('site') || '',
      period,
      compare,
      matchWeekday: params.get('match_weekday') === '1',
      imports: params.get('imports') === '1',
      exact: params.get('exact') === '1',
      date: /^\d{4}-\d{2}-\d{2}$/.test(params.get('date') || '') ? params.get('date') : '',
      from: params.get('from') || '',
      to: params.get('to') || '',
      prop: params.get('prop') || '',
      funnel: params.get('funnel') || '',
      metric: params.get('metric') || '',
      interval: params.get('interval') || '',
      tabs: Object.fromEntries(PANELS.map((p) => [p.id, Number(params.get('tab_' + p.id) || 0)])),
      filters,
    };
  }
  function writeView(view, replace) {
    const params = new URLSearchParams();
    params.set('site', view.site);
    params.set('period', view.period);
    if (view.period === 'custom') { params.set('from', view.from); params.set('to', view.to); }
    if (view.date && STEPS[view.period]) params.set('date', view.date);
    if (view.compare !== 'previous_period') params.set('compare', view.compare);
    if (view.matchWeekday && view.compare !== 'off') params.set('match_weekday', '1');
    if (view.imports) params.set('imports', '1');
    if (view.exact) params.set('exact', '1');
    for (const f of view.filters) {
      if (f.op === 'is' && f.values.length === 1) params.append(f.dim, f.values[0]);
      else params.append('f', JSON.stringify([f.op, f.dim, f.values]));
    }
    for (const [id, tab] of Object.entries(view.tabs)) if (tab) params.set('tab_' + id, tab);
    if (view.prop) params.set('prop', view.prop);
    if (view.funnel) params.set('funnel', view.funnel);
    if (view.metric) params.set('metric', view.metric);
    if (view.interval) params.set('interval', view.interval);
    const url = location.pathname + '?' + params.toString() + location.hash;
    if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
  }
  let view = readView();

  // ---- API -----------------------------------------------------------------
  class ApiError extends Error { constructor(status, message) { super(message); this.status = status; } }
  const sleepMs = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function api(path, options) {
    const headers = Object.assign({}, (options && options.headers) || {});
    if (auth.token) headers.Authorization = 'Bearer ' + auth.token;
    let response = null;
    // A 429 (this credential's share of concurrent queries is taken) is
    // retried after its Retry-After, a few times.
    for (let attempt = 0; ; attempt++) {
      response = await fetch(path, Object.assign({ credentials: 'same-origin' }, options, { headers }));
      if (response.status !== 429 || attempt >= 4) break;
      const wait = Math.min(5, Number(response.headers.get('Retry-After')) || 1);
      await sleepMs(wait * 1000);
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new ApiError(response.status, (body && body.error) || response.statusText);
    return body;
  }
  const postJson = (path, body) => api(path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  // The site's today (its time zone's date), asked of the API once per
  // site: yesterday, last month and the arrows are counted from it.
  const siteToday = {};
  async function todayOf(site) {
    if (!siteToday[site]) {
      const answer = await postJson('/api/v2/query', { site_id: site, metrics: ['visitors'], date_range: 'day' });
      siteToday[site] = answer.query.date_range[0].slice(0, 10);
    }
    return siteToday[site];
  }
  // Day arithmetic on YYYY-MM-DD (as UTC dates, so no zone shifts them).
  const addDays = (day, n) => new Date(Date.parse(day + 'T00:00:00Z') + n * 86400000).toISOString().slice(0, 10);
  const addMonths = (day, n) => {
    const d = new Date(Date.parse(day.slice(0, 7) + '-01T00:00:00Z'));
    d.setUTCMonth(d.getUTCMonth() + n);
    return d.toISOString().slice(0, 10);
  };
  /** The API's date_range and anchor day for the view. */
  function period() {
    const today = siteToday[view.site];
    switch (view.period) {
      case 'custom': return { date_range: [view.from, view.to] };
      case 'yesterday': return { date_range: 'day', date: addDays(today, -1) };
      case 'last_month': return { date_range: 'month', date: addMonths(today, -1) };
      default: return view.date ? { date_range: view.period, date: view.date } : { date_range: view.period };
    }
  }
  const dateRange = () => period().date_range;
  /**
   * The view one arrow step back (-1) or forward (+1), or null where there
   * is none: all time, and nothing after today.
   */
  function stepped(direction) {
    const today = siteToday[view.site];
    const next = Object.assign({}, view);
    if (view.period === 'all' || !today) return null;
    if (view.period === 'custom') {
      if (!(view.from && view.to)) return null;
      const days = Math.round((Date.parse(view.to) - Date.parse(view.from)) / 86400000) + 1;
      next.from = addDays(view.from, direction * days);
      next.to = addDays(view.to, direction * days);
      return next.from > today ? null : next;
    }
    // Yesterday and last month step as a day and a month anchored there.
    if (view.period === 'yesterday') { next.period = 'day'; next.date = addDays(today, -1); }
    if (view.period === 'last_month') { next.period = 'month'; next.date = addMonths(today, -1); }
    const step = STEPS[next.period];
    const anchor = next.date || today;
    next.date = step.days ? addDays(anchor, direction * step.days) : addMonths(anchor, direction * step.months);
    if (step.months && !step.days && next.period === 'month') next.date = next.date.slice(0, 8) + '01';
    if (next.date > today) return null;
    if (next.date === today || (next.period === 'month' && next.date.slice(0, 7) === today.slice(0, 7))) next.date = '';
    return next;
  }
  function apiFilters() {
    return view.filters.map((f) => [f.op, f.dim, f.values]);
  }
  /** The stats API request for the current view plus `extra`. */
  function queryBody(extra) {
    const body = Object.assign({ site_id: view.site }, period(), extra);
    body.filters = apiFilters().concat(extra.filters || []);
    // Imported history, where the viewer asked for it (the API adds it
    // where it can and says so in `meta`); exact figures, where the viewer
    // asked for them rather than an estimate from a share of the visitors.
    if (view.imports || view.exact) {
      body.include = Object.assign({}, extra.include || {}, view.imports ? { imports: true } : {}, view.exact ? { exact: true } : {});
    }
    return body;
  }
  /**
   * What an answer's `meta.sampling` says, in words: a large period is
   * read from one in n of the visitors (chosen by visitor), and the
   * figures are estimates within the margin the API gives (for the first
   * row's visitors: the headline's, or a panel's top row's).
   */
  function samplingText(sampling, of) {
    const share = Math.round(1 / sampling.fraction);
    const margin = typeof sampling.visitors_margin === 'number'
      ? ` (${of} ±${decimal.format(sampling.visitors_margin * 100)}%, 19 times in 20)` : '';
    return `Estimated from 1 in ${integer.format(share)} visitors${margin}`;
  }
  const SAMPLING_TITLE = 'This period holds many events: figures are counted from a share of the visitors and scaled up. Tick “Exact figures” to count every event (slower).';
  function showSampling(meta) {
    const note = $('sampling-note');
    const sampling = meta && meta.sampling;
    note.hidden = !sampling;
    if (!sampling) { note.textContent = ''; delete note.dataset.fraction; return; }
    note.dataset.fraction = String(sampling.fraction);
    note.textContent = samplingText(sampling, 'visitors');
    note.title = SAMPLING_TITLE;
  }
  // What the headline's answer says of imported data, in words.
  const IMPORTS_NOTES = {
    no_imported_data: 'No imported data for this site',
    out_of_range: 'No imported data in this period',
    unsupported_query: 'Imported data left out: these filters need more detail than imported data has',
    unsupported_interval: 'Imported data left out: imported data is per day',
  };
  function showImports(meta) {
    const note = $('imports-note');
    note.hidden = !view.imports;
    if (!view.imports) { note.textContent = ''; delete note.dataset.included; return; }
    note.dataset.included = String(meta.imports_included === true);
    note.textContent = meta.imports_included ? 'Includes imported data' : (IMPORTS_NOTES[meta.imports_skip_reason] || 'Imported data left out');
  }
  // The collector answers a few queries per credential at once
  // (query.max_concurrent_per_credential, 4 by default): the page keeps at
  // most three in flight and queues the rest.
  const MAX_IN_FLIGHT = 3;
  let inFlight = 0;
  const waiting = [];
  async function limited(run) {
    while (inFlight >= MAX_IN_FLIGHT) await new Promise((resolve) => waiting.push(resolve));
    inFlight++;
    try { return await run(); } finally {
      inFlight--;
      const next = waiting.shift();
      if (next) next();
    }
  }
  // An answer for a view the viewer has already left is dropped (and a
  // queued question for it never sent): it must not draw over the new view.
  class Stale extends Error {}
  function current(run) {
    const mine = generation;
    return limited(() => {
      if (mine !== generation) throw new Stale('stale view');
      return run();
    }).then((answer) => {
      if (mine !== generation) throw new Stale('stale view');
      return answer;
    });
  }
  const query = (extra) => current(() => postJson('/api/v2/query', queryBody(extra)));

  // ---- formatting ----------------------------------------------------------
  const integer = new Intl.NumberFormat('en-US');
  const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  let regionNames = null;
  try { regionNames = new Intl.DisplayNames(['en'], { type: 'region' }); } catch (e) { regionNames = null; }
  function formatMetric(metric, value) {
    if (value === null || value === undefined) return '–';
    if (typeof value === 'object') return value.long;
    if (metric === 'views_per_visit') return decimal.format(value);
    if (metric === 'exit_rate') return decimal.format(value) + '%';
    if (metric === 'percentage') return decimal.format(value) + '%';
    if (metric === 'bounce_rate' || metric === 'conversion_rate' || metric === 'scroll_depth') return integer.format(value) + '%';
    if (metric === 'visit_duration' || metric === 'time_on_page') {
      const s = Math.round(value); const m = Math.floor(s / 60);
      return m ? `${m}m ${s % 60}s` : `${s}s`;
    }
    return integer.format(value);
  }
  /** A money value ({value, currency, short, long}) as its number. */
  const plainValue = (value) => (value !== null && typeof value === 'object' ? value.value : value);
  function formatValue(dim, value) {
    if (value === '') return '(none)';
    if (dim === 'visit:country' && regionNames && /^[A-Z]{2}$/.test(value)) {
      try { return `${regionNames.of(value)} (${value})`; } catch (e) { return value; }
    }
    return value;
  }

  // ---- rendering -----------------------------------------------------------
  function setStatus(text) { $('status').textContent = text; }

  const dimensionName = (dim) => (dim.startsWith('event:props:') ? 'Property ' + dim.slice(12) : (DIMENSION_NAMES[dim] || dim));
  const filterText = (f) => `${dimensionName(f.dim)} ${OPERATORS[f.op]} ${f.values.map((v) => formatValue(f.dim, v)).join(' or ')}`;

  /** A chip per filter: its text opens it in the filter menu, × removes it. */
  function renderChips() {
    const chips = $('chips');
    chips.replaceChildren();
    for (const f of view.filters) {
      const text = filterText(f);
      chips.append(el('span', { class: 'chip-pair' },
        el('button', {
          type: 'button', class: 'chip-edit', 'data-dim': f.dim, 'aria-label': `Edit filter: ${text}`,
          on: { click: () => openFilterMenu(f) },
        }, el('span', { text })),
        el('button', {
          type: 'button', class: 'chip', 'data-dim': f.dim, 'data-op': f.op, 'data-value': f.values.join('\n'),
          'aria-label': `Remove filter: ${text}`,
          on: { click: () => { view.filters = view.filters.filter((x) => x !== f); navigate(); } },
        }, el('span', { 'aria-hidden': 'true', class: 'x', text: '×' }), el('span', { class: 'visually-hidden', text }))));
    }
    chips.append(el('button', { type: 'button', id: 'filter-add', class: 'filter-add', text: '+ Filter', on: { click: () => openFilterMenu(null) } }));
  }

  function addFilters(dims, values) {
    view.filters = view.filters.filter((f) => !dims.includes(f.dim)).concat(dims.map((dim, i) => ({ op: 'is', dim, values: [values[i]] })));
    navigate();
  }

  function addFilter(dim, value) {
    view.filters = view.filters.filter((f) => f.dim !== dim).concat([{ op: 'is', dim, values: [value] }]);
    navigate();
  }

  // ---- the filter menu -------------------------------------------------------
  // A dialog: a dimension (or a property by name), an operator and one or
  // more values (one per line), with the period's most common values of
  // the dimension offered as suggestions. Editing replaces the chip.
  let editing = null;
  function openFilterMenu(filter) {
    editing = filter;
    const dims = $('filter-dim');
    if (!dims.options.length) {
      // Regions and cities by name (their codes and ids are for the API).
      for (const [dim, name] of Object.entries(DIMENSION_NAMES)) {
        if (dim !== 'visit:region' && dim !== 'visit:city') dims.append(el('option', { value: dim, text: name }));
      }
      dims.append(el('option', { value: 'prop', text: 'Property…' }));
    }
    const prop = filter && filter.dim.startsWith('event:props:');
    dims.value = filter ? (prop ? 'prop' : filter.dim) : 'event:page';
    $('filter-prop').value = prop ? filter.dim.slice(12) : '';
    $('filter-op').value = filter ? filter.op : 'is';
    $('filter-values').value = filter ? filter.values.join('\n') : '';
    $('filter-error').textContent = '';
    $('filter-title').textContent = filter ? 'Edit filter' : 'Add a filter';
    filterMenuChanged();
    $('filter-dialog').showModal();
    $('filter-dim').focus();
  }
  function filterDimension() {
    const dim = $('filter-dim').value;
    return dim === 'prop' ? ($('filter-prop').value.trim() ? 'event:props:' + $('filter-prop').value.trim() : '') : dim;
  }
  /** Shows the property name field and the suggestions for the dimension. */
  async function filterMenuChanged() {
    const isProp = $('filter-dim').value === 'prop';
    $('filter-prop-row').hidden = !isProp;
    const goal = $('filter-dim').value === 'event:goal';
    for (const option of $('filter-op').options) option.disabled = goal && option.value !== 'is' && option.value !== 'contains';
    if (goal && $('filter-op').selectedOptions[0].disabled) $('filter-op').value = 'is';
    const dim = filterDimension();
    const list = $('filter-suggestions');
    list.replaceChildren();
    if (!dim) return;
    try {
      const others = apiFilters().filter((f, i) => view.filters[i] !== editing && f[1] !== dim);
      const answer = await postJson('/api/v2/query', Object.assign({ site_id: view.site }, period(), {
        metrics: ['visitors'], dimensions: [dim], filters: others, pagination: { limit: 10 },
      }));
      if (filterDimension() !== dim) return;
      list.replaceChildren(...answer.results.map((r) => el('li', {}, el('button', {
        type: 'button', class: 'suggestion', 'data-value': r.dimensions[0], text: formatValue(dim, r.dimensions[0]),
        on: { click: () => {
          const box = $('filter-values');
          const values = box.value.split('\n').map((v) => v.trim()).filter(Boolean);
          if (!values.includes(r.dimensions[0])) values.push(r.dimensions[0]);
          box.value = values.join('\n');
          box.focus();
        } },
      }))));
    } catch (e) { /* no suggestions: the values can still be typed */ }
  }
  function applyFilterMenu(event) {
    event.preventDefault();
    const dim = filterDimension();
    const values = $('filter-values').value.split('\n').map((v) => v.trim()).filter(Boolean);
    if (!dim) { $('filter-error').textContent = 'Name the property.'; return; }
    if (!values.length) { $('filter-error').textContent = 'Give at least one value.'; return; }
    const filter = { op: $('filter-op').value, dim, values };
    const at = editing ? view.filters.indexOf(editing) : -1;
    const rest = view.filters.filter((f) => f !== editing);
    if (at >= 0) rest.splice(at, 0, filter); else rest.push(filter);
    view.filters = rest;
    $('filter-dialog').close();
    editing = null;
    navigate();
  }

  /**
   * The headline's cards for these filters, as Plausible's: conversions
   * under a goal filter; views per visit where it is defined (no page
   * filter); time on page and scroll depth where they are answered (a page
   * filter, with page, hostname and property filters only).
   */
  function headlineMetrics(filters) {
    if (filters.some((f) => f.dim === 'event:goal')) return ['visitors', 'events', 'conversion_rate', 'total_revenue', 'average_revenue'];
    const paged = filters.some((f) => f.dim === 'event:page');
    const metrics = ['visitors', 'visits', 'pageviews'];
    if (!paged) metrics.push('views_per_visit');
    metrics.push('bounce_rate', 'visit_duration');
    if (paged && engagementAnswerable(filters)) metrics.push(...ENGAGEMENT);
    return metrics;
  }

  const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  /** The period as the API resolved it, first and last day, in words. */
  function showRange(range) {
    const [first, last] = range.map((t) => t.slice(0, 10));
    const word = (d) => dayFormat.format(new Date(d + 'T00:00:00Z'));
    const node = $('period-range');
    node.dataset.from = first; node.dataset.to = last;
    node.textContent = first === last ? word(first) : `${word(first)} – ${word(last)}`;
  }

  async function renderHeadline() {
    const goal = goalFiltered();
    const metrics = headlineMetrics(view.filters);
    const names = goal ? GOAL_METRIC_NAMES : METRIC_NAMES;
    // Like with like: today so far against the same hours of the day
    // before, this month so far against as long a stretch before it.
    const comparisons = { mode: view.compare, up_to_now: true };
    if (view.matchWeekday) comparisons.match_day_of_week = true;
    const include = view.compare === 'off' ? {} : { comparisons };
    const answer = await query({ metrics, include });
    showRange(answer.query.date_range);
    showImports(answer.meta);
    showSampling(answer.meta);
    const row = answer.results[0] || { metrics: metrics.map(() => 0) };
    const list = $('headline');
    list.replaceChildren();
    metrics.forEach((metric, i) => {
      const value = row.metrics[i];
      // Revenue only where the goal has it, engagement only where a
      // visit said it (null otherwise).
      if (value === null && OPTIONAL.includes(metric)) return;
      const shownValue = plainValue(value);
      const item = el('li', { class: 'stat' },
        el('span', { class: 'stat-label', text: names[metric] }),
        el('strong', { class: 'stat-value', 'data-metric': metric, 'data-value': shownValue, text: formatMetric(metric, value) }));
      const change = row.comparison ? row.comparison.change[i] : null;
      const before = row.comparison ? plainValue(row.comparison.metrics[i]) : null;
      if (row.comparison && !before) {
        // Nothing in the compared period: no change to speak of.
        item.append(el('span', { class: 'change none', 'data-change-none': '', text: '—', title: 'Nothing to compare with in ' + COMPARISONS[view.compare] }));
      } else if (change !== null && change !== undefined) {
        const better = metric === 'bounce_rate' ? change < 0 : change > 0;
        const arrow = change > 0 ? '↑' : change < 0 ? '↓' : '→';
        item.append(el('span', {
          class: 'change ' + (change === 0 ? 'same' : better ? 'good' : 'bad'),
          'data-change': change,
          text: `${arrow} ${integer.format(Math.abs(change))}${metric === 'bounce_rate' ? ' pts' : '%'}`,
          title: 'Change against ' + COMPARISONS[view.compare],
        }));
      }
      list.append(item);
    });
  }

  // ---- the chart ------------------------------------------------------------
  /** The metrics the chart can draw under these filters (as the headline's). */
  function chartMetrics(filters) {
    if (filters.some((f) => f.dim === 'event:goal')) return ['visitors', 'events', 'conversion_rate'];
    const metrics = ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'];
    if (filters.some((f) => f.dim === 'event:page') && engagementAnswerable(filters)) metrics.push(...ENGAGEMENT);
    return metrics;
  }
  const INTERVAL_NAMES = { 'time:hour': 'Hours', 'time:day': 'Days', 'time:week': 'Weeks', 'time:month': 'Months' };
  /** The intervals that suit the period, the usual one first. */
  function intervals() {
    switch (view.period) {
      case 'day': case 'yesterday': return ['time:hour'];
      case '7d': return ['time:day', 'time:hour'];
      case '30d': case 'month': case 'last_month': return ['time:day', 'time:week'];
      case '12mo': return ['time:month', 'time:week', 'time:day'];
      case 'all': return ['time:month', 'time:week'];
      default: {
        const days = view.from && view.to ? (Date.parse(view.to) - Date.parse(view.from)) / 86400000 + 1 : 30;
        if (days <= 1) return ['time:hour'];
        if (days <= 7) return ['time:day', 'time:hour'];
        if (days <= 92) return ['time:day', 'time:week', 'time:month'];
        return ['time:month', 'time:week'];
      }
    }
  }
  const hourFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });
  const shortDay = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
  const monthFormat = new Intl.DateTimeFormat('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' });
  /** A bucket label (the site's local time, as the API writes it) in words. */
  function bucketText(dim, label, long) {
    const at = new Date(label.replace(' ', 'T').slice(0, 19) + (label.length > 10 ? 'Z' : 'T00:00:00Z'));
    if (Number.isNaN(at.getTime())) return label;
    if (dim === 'time:hour') return long ? `${shortDay.format(at)}, ${hourFormat.format(at)}` : hourFormat.format(at);
    if (dim === 'time:month') return monthFormat.format(at);
    const day = long ? shortDay.format(at) : dayFormat.format(at).replace(/ \d{4}$/, '');
    return dim === 'time:week' && long ? 'Week of ' + day : day;
  }
  /** A round number at or above `v`, for the top of the value axis. */
  function niceMax(v) {
    if (v <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(v));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= v) return step * power;
    return 10 * power;
  }

  // Each chart question gets a number: an answer to an older one (the
  // metric and the interval switched in quick succession) is dropped.
  let chartAsked = 0;
  async function renderChart() {
    const asked = ++chartAsked;
    const metrics = chartMetrics(view.filters);
    const metric = metrics.includes(view.metric) ? view.metric : metrics[0];
    const options = intervals();
    const dim = options.includes(view.interval) ? view.interval : options[0];
    const names = goalFiltered() ? GOAL_METRIC_NAMES : METRIC_NAMES;
    const metricSelect = $('chart-metric');
    metricSelect.replaceChildren(...metrics.map((m) => el('option', { value: m, text: names[m] })));
    metricSelect.value = metric;
    const intervalSelect = $('chart-interval');
    intervalSelect.replaceChildren(...options.map((d) => el('option', { value: d, text: INTERVAL_NAMES[d] })));
    intervalSelect.value = dim;
    intervalSelect.disabled = options.length < 2;
    const include = { time_labels: true };
    if (view.compare !== 'off') {
      include.comparisons = { mode: view.compare, up_to_now: true };
      if (view.matchWeekday) include.comparisons.match_day_of_week = true;
    }
    const body = queryBody({ metrics: [metric], dimensions: [dim], include });
    $('chart').dataset.query = JSON.stringify(body);
    $('chart').dataset.state = 'loading';
    const answer = await current(() => postJson('/api/v2/query', body));
    if (asked !== chartAsked) return;
    // The answer holds the buckets with data (every bucket, with a
    // comparison); the labels name every bucket of the period. Buckets
    // after today are not drawn, nor all time's before its first data.
    const found = new Map(answer.results.map((r) => [r.dimensions[0], r]));
    const today = siteToday[view.site] || '9999-12-31';
    let labels = (answer.meta.time_labels || [...found.keys()]).filter((l) => l.slice(0, 10) <= today);
    if (view.period === 'all') {
      const first = labels.findIndex((l) => found.has(l) && found.get(l).metrics[0]);
      labels = first < 0 ? [] : labels.slice(first);
    }
    const points = labels.map((label) => {
      const r = found.get(label);
      const then = r && r.comparison ? { label: r.comparison.dimensions[0], value: r.comparison.metrics[0] } : null;
      return { label, value: r ? r.metrics[0] : 0, then };
    });
    drawChart(points, metric, dim, names[metric]);
    $('chart').dataset.state = 'ready';
  }

  /** Draws the series (and the compared one, dashed) with axes and a readout. */
  function drawChart(points, metric, dim, name) {
    const box = $('chart-svg');
    box.replaceChildren();
    const width = 800; const height = 220; const left = 48; const right = 12; const top = 10; const bottom = 24;
    const values = points.flatMap((p) => [p.value || 0, p.then ? p.then.value || 0 : 0]);
    const max = niceMax(Math.max(0, ...values));
    const x = (i) => left + (points.length <= 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (points.length - 1));
    const y = (v) => height - bottom - ((v || 0) * (height - top - bottom)) / max;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-caption', tabindex: 0, class: 'plot' });
    for (const v of [0, max / 2, max]) {
      chart.append(svg('line', { x1: left, y1: y(v), x2: width - right, y2: y(v), class: v ? 'grid' : 'axis' }));
      const tick = svg('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' });
      tick.textContent = formatMetric(metric, v);
      chart.append(tick);
    }
    const ticks = Math.min(points.length, 6);
    for (let k = 0; k < ticks; k++) {
      const i = ticks === 1 ? 0 : Math.round((k * (points.length - 1)) / (ticks - 1));
      const label = svg('text', { x: x(i), y: height - 6, class: 'tick', 'text-anchor': k === 0 ? 'start' : k === ticks - 1 ? 'end' : 'middle' });
      label.textContent = bucketText(dim, points[i].label, false);
      chart.append(label);
    }
    const line = (get) => points.map((p, i) => `${x(i).toFixed(1)},${y(get(p)).toFixed(1)}`).join(' ');
    if (points.length) {
      const main = line((p) => p.value);
      chart.append(svg('polygon', { points: `${x(0)},${y(0)} ${main} ${x(points.length - 1)},${y(0)}`, class: 'area' }));
      if (points.some((p) => p.then)) chart.append(svg('polyline', { points: line((p) => (p.then ? p.then.value : 0)), class: 'line then' }));
      chart.append(svg('polyline', { points: main, class: 'line' }));
    }
    const cursor = svg('line', { y1: top, y2: height - bottom, class: 'cursor', visibility: 'hidden' });
    const dot = svg('circle', { r: 4, class: 'dot', visibility: 'hidden' });
    chart.append(cursor, dot);
    box.append(chart);
    const readout = $('chart-readout');
    readout.textContent = '';
    let at = -1;
    const select = (i) => {
      if (!points.length) return;
      at = Math.max(0, Math.min(points.length - 1, i));
      const p = points[at];
      for (const [k, v] of [['x1', x(at)], ['x2', x(at)]]) cursor.setAttribute(k, v);
      dot.setAttribute('cx', x(at)); dot.setAttribute('cy', y(p.value));
      cursor.setAttribute('visibility', 'visible'); dot.setAttribute('visibility', 'visible');
      readout.dataset.label = p.label;
      readout.dataset.value = p.value === null ? '' : p.value;
      readout.dataset.then = p.then ? p.then.value : '';
      readout.textContent = `${bucketText(dim, p.label, true)}: ${formatMetric(metric, p.value)} (${name.toLowerCase()})`
        + (p.then ? ` · ${bucketText(dim, p.then.label, true)}: ${formatMetric(metric, p.then.value)}` : '');
    };
    chart.addEventListener('mousemove', (e) => {
      const rect = chart.getBoundingClientRect();
      const vx = ((e.clientX - rect.left) / rect.width) * width;
      select(points.length <= 1 ? 0 : Math.round(((vx - left) / (width - left - right)) * (points.length - 1)));
    });
    chart.addEventListener('focus', () => { if (at < 0) select(points.length - 1); });
    chart.addEventListener('keydown', (e) => {
      const moves = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: points.length - 1 };
      if (e.key in moves) { e.preventDefault(); select(moves[e.key]); }
    });
    const first = points.length ? bucketText(dim, points[0].label, true) : '';
    const last = points.length ? bucketText(dim, points[points.length - 1].label, true) : '';
    $('chart-caption').textContent = points.length
      ? `${name} per ${dim.slice(5)}, ${first} to ${last}${points.some((p) => p.then) ? ', dashed: ' + COMPARISONS[view.compare] : ''}. Arrow keys read the values.`
      : `${name}: no data`;
    $('chart-col-value').textContent = name;
    const body = $('chart-table').tBodies[0];
    body.replaceChildren(...points.map((p) => el('tr', {},
      el('th', { scope: 'row', text: p.label }),
      el('td', { 'data-value': p.value, text: formatMetric(metric, p.value) }),
      el('td', { text: p.then ? p.then.label : '' }),
      el('td', { 'data-value': p.then ? p.then.value : null, text: p.then ? formatMetric(metric, p.then.value) : '' }))));
  }

  /** A table of one breakdown; each row's label is a button that filters. */
  function breakdownTable(caption, dim, filterDim, asked, results, columns, dims) {
    dims = dims || [dim];
    // A column of an optional metric that no row has is left out.
    const shown = asked.map((m, i) => [m, i]).filter(([m, i]) => !OPTIONAL.includes(m) || results.some((r) => r.metrics[i] !== null));
    const metrics = shown.map(([m]) => m);
    const total = results.reduce((a, r) => Math.max(a, r.metrics[0]), 0) || 1;
    const table = el('table', { class: 'breakdown', 'data-dimension': dim },
      el('caption', { class: 'visually-hidden', text: caption }),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', 'data-key': dims[0], text: dims.length > 1 ? dims.map((d) => DIMENSION_NAMES[d]).join(' and ') : DIMENSION_NAMES[dim] || (dim.startsWith('event:props:') ? dim.slice(12) : dim) }),
        ...metrics.map((m) => el('th', { scope: 'col', class: 'num', 'data-key': m, text: (columns && columns[m]) || METRIC_NAMES[m].replace(/^(Unique|Total) /, ''),
          title: METRIC_NAMES[m] })))));
    const body = el('tbody');
    if (!results.length) {
      body.append(el('tr', {}, el('td', { colspan: metrics.length + 1, class: 'empty', text: 'No data for this period' })));
    }
    for (const r of results) {
      const value = r.dimensions.join(' ');
      const active = dims.length === 1 && view.filters.some((f) => f.dim === filterDim && f.op === 'is' && f.values.includes(value));
      const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
      bar.style.width = `${(100 * r.metrics[0]) / total}%`;
      const label = el('button', {
        type: 'button', class: 'row-filter', 'data-value': value, 'aria-pressed': active ? 'true' : 'false',
        title: `Filter by ${DIMENSION_NAMES[filterDim] || filterDim} ${value}`,
        on: { click: () => (dims.length > 1 ? addFilters(dims, r.dimensions) : addFilter(filterDim, value)) },
      }, el('span', { text: dims.length > 1 ? value : formatValue(dim, value) }));
      body.append(el('tr', { 'data-value': value },
        el('th', { scope: 'row' }, bar, label),
        ...shown.map(([m, i]) => el('td', { class: 'num', 'data-metric': m, 'data-value': plainValue(r.metrics[i]), text: formatMetric(m, r.metrics[i]) }))));
    }
    table.append(body);
    return table;
  }

  function panelShell(id, title, tabs, active, onTab) {
    const section = el('section', { class: 'panel', id: 'panel-' + id, 'aria-labelledby': `panel-${id}-title` });
    const head = el('div', { class: 'panel-head' }, el('h2', { id: `panel-${id}-title`, text: title }));
    if (tabs.length > 1) {
      const list = el('div', { class: 'tabs', role: 'group', 'aria-label': `${title}: breakdown` });
      tabs.forEach((t, i) => list.append(el('button', {
        type: 'button', class: 'tab', 'aria-pressed': i === active ? 'true' : 'false', 'data-tab': i,
        text: t.label, on: { click: () => onTab(i) },
      })));
      head.append(list);
    }
    section.append(head);
    return section;
  }

  /** A panel whose answer is an estimate says so under its table. */
  function sampledNote(section, meta, of = 'top row’s visitors') {
    if (!meta || !meta.sampling) return;
    section.dataset.fraction = String(meta.sampling.fraction);
    section.append(el('p', { class: 'note sampled', text: samplingText(meta.sampling, of), title: SAMPLING_TITLE }));
  }

  // The newest question per panel: a slower answer to an older tab is dropped.
  const panelAsked = {};
  async function renderPanel(panel) {
    const asked = panelAsked[panel.id] = (panelAsked[panel.id] || 0) + 1;
    const active = Math.min(view.tabs[panel.id] || 0, panel.tabs.length - 1);
    const tab = panel.tabs[active];
    const section = panelShell(panel.id, panel.title, panel.tabs, active, (i) => {
      view.tabs[panel.id] = i; writeView(view, false); renderPanel(panel).catch(showError);
    });
    // Time on page and scroll depth come from events only: with imported
    // data on, the panel shows what both can answer.
    const metrics = tab.engagement && !view.imports && engagementAnswerable(view.filters) ? tab.metrics.concat(ENGAGEMENT) : tab.metrics;
    const body = queryBody({ metrics, dimensions: tab.dims || [tab.dim], filters: tab.filters || [], pagination: { limit: LIST_LIMIT } });
    section.dataset.query = JSON.stringify(body);
    section.querySelector('.panel-head').append(el('button', {
      type: 'button', class: 'details-open', 'aria-label': `${panel.title}: ${tab.label}, details`, text: 'Details',
      on: { click: () => openDetails(panel, tab) },
    }));
    const answer = await current(() => postJson('/api/v2/query', body));
    if (asked !== panelAsked[panel.id]) return;
    section.append(breakdownTable(`${panel.title}: ${tab.label}`, tab.dim, tab.filterDim || tab.dim, metrics, answer.results, tab.columns, tab.dims));
    sampledNote(section, answer.meta);
    // The geolocation database's licence may ask for credit where its
    // data is shown (DB-IP's CC BY 4.0 does).
    if (panel.id === 'locations' && auth.credit) {
      section.append(el('p', { class: 'note credit', id: 'geo-credit' },
        el('a', { href: auth.credit.url, rel: 'noopener noreferrer', text: auth.credit.text }),
        ` (${auth.credit.licence})`));
    }
    $('panel-' + panel.id).replaceWith(section);
  }

  async function renderProperties() {
    const keys = await query({ metrics: ['visitors', 'events'], dimensions: ['event:prop_key'], pagination: { limit: 20 } });
    const names = keys.results.map((r) => r.dimensions[0]);
    const key = names.includes(view.prop) ? view.prop : names[0];
    const section = el('section', { class: 'panel', id: 'panel-props', 'aria-labelledby': 'panel-props-title' });
    const head = el('div', { class: 'panel-head' }, el('h2', { id: 'panel-props-title', text: 'Event properties' }));
    if (names.length) {
      const select = el('select', { id: 'prop-key', 'aria-label': 'Property', on: { change: (e) => {
        view.prop = e.target.value; writeView(view, false); renderProperties().catch(showError);
      } } }, ...names.map((n) => el('option', { value: n, text: n })));
      select.value = key;
      head.append(select);
    }
    section.append(head);
    if (key) {
      const dim = 'event:props:' + key;
      const body = queryBody({ metrics: ['visitors', 'events'], dimensions: [dim], filters: nonEmpty(dim), pagination: { limit: LIST_LIMIT } });
      section.dataset.query = JSON.stringify(body);
      const answer = await current(() => postJson('/api/v2/query', body));
      section.append(breakdownTable(`Property ${key}`, dim, dim, ['visitors', 'events'], answer.results));
      sampledNote(section, answer.meta);
    } else {
      section.append(el('p', { class: 'empty', text: 'No event properties in this period' }));
    }
    $('panel-props').replaceWith(section);
  }

  // Funnels: the site's funnels (GET /api/v2/funnels), one drawn at a time
  // from its answer (POST /api/v2/funnel): a bar per step, counted over the
  // visits the page's filters keep.
  async function renderFunnels() {
    const listed = await current(() => api('/api/v2/funnels?site_id=' + encodeURIComponent(view.site)));
    const names = listed.funnels.map((f) => f.name);
    const name = names.includes(view.funnel) ? view.funnel : names[0];
    const section = el('section', { class: 'panel', id: 'panel-funnels', 'aria-labelledby': 'panel-funnels-title' });
    const head = el('div', { class: 'panel-head' }, el('h2', { id: 'panel-funnels-title', text: 'Funnels' }));
    if (names.length) {
      const select = el('select', { id: 'funnel', 'aria-label': 'Funnel', on: { change: (e) => {
        view.funnel = e.target.value; writeView(view, false); renderFunnels().catch(showError);
      } } }, ...names.map((n) => el('option', { value: n, text: n })));
      select.value = name;
      head.append(select);
    }
    section.append(head);
    if (!name) {
      section.append(el('p', { class: 'empty', text: 'No funnels for this site (saltmark funnels add)' }));
      $('panel-funnels').replaceWith(section);
      return;
    }
    const body = Object.assign({ site_id: view.site, funnel: name }, period(), { filters: apiFilters() });
    // A large period's funnel is estimated too, and exact when asked.
    if (view.exact) body.include = { exact: true };
    section.dataset.query = JSON.stringify(body);
    const answer = await current(() => postJson('/api/v2/funnel', body));
    const widest = Math.max(1, ...answer.steps.map((st) => st.visitors));
    const table = el('table', { class: 'breakdown', 'data-funnel': name },
      el('caption', { class: 'visually-hidden', text: `Funnel ${name}` }),
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col', text: 'Step' }),
        el('th', { scope: 'col', class: 'num', text: 'Visitors' }),
        el('th', { scope: 'col', class: 'num', text: 'Conversion' }),
        el('th', { scope: 'col', class: 'num', text: 'Drop-off' }))));
    const rows = el('tbody');
    answer.steps.forEach((st, i) => {
      const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
      bar.style.width = `${(100 * st.visitors) / widest}%`;
      rows.append(el('tr', { 'data-step': i + 1, 'data-value': st.label },
        el('th', { scope: 'row' }, bar, el('span', { class: 'step-label', text: `${i + 1}. ${st.label}` })),
        el('td', { class: 'num', 'data-metric': 'visitors', 'data-value': st.visitors, text: integer.format(st.visitors) }),
        el('td', { class: 'num', 'data-metric': 'conversion_rate', 'data-value': st.conversion_rate, text: integer.format(st.conversion_rate) + '%' }),
        el('td', { class: 'num', 'data-metric': 'dropoff', 'data-value': st.dropoff, text: integer.format(st.dropoff) })));
    });
    table.append(rows);
    section.append(table, el('p', { class: 'note', text:
      `${integer.format(answer.entering_visitors)} of ${integer.format(answer.all_visitors)} visitors entered; ${integer.format(answer.conversion_rate)}% of them completed it. Counted within a visit${view.filters.length ? ', over the visits the filters keep' : ''}.` }));
    sampledNote(section, answer.meta, 'first step’s visitors');
    $('panel-funnels').replaceWith(section);
  }

  let liveTimer = null;
  async function renderLive() {
    try {
      const answer = await current(() => api('/api/v2/realtime?site_id=' + encodeURIComponent(view.site)));
      const n = answer.visitors;
      const live = $('live');
      live.dataset.value = n;
      live.textContent = `● ${integer.format(n)} current visitor${n === 1 ? '' : 's'}`;
    } catch (e) { /* the next tick tries again */ }
  }

  async function renderShares() {
    const section = $('shares');
    section.hidden = auth.mode !== 'user';
    if (auth.mode !== 'user') return;
    const answer = await api('/api/dashboard/shares');
    const list = $('share-list');
    // Revoked links are gone for good: the list shows the live ones.
    const live = answer.links.filter((l) => l.link_site === view.site && !l.is_revoked);
    list.replaceChildren(...live.map((l) => el('li', { 'data-id': l.link_id, 'data-label': l.link_label },
      el('span', { text: `${l.link_label || 'Unlabelled'} · ${l.link_id}` }),
      el('button', { type: 'button', text: 'Revoke', 'aria-label': `Revoke share link ${l.link_id}`, on: { click: async () => {
        await postJson('/api/dashboard/shares/revoke', { id: l.link_id }); renderShares().catch(showError);
      } } }))));
  }


  // ---- realtime: the last half hour ---------------------------------------------
  // Opened from the current-visitors badge: visitors per minute of the last
  // 30 minutes (time:minute over that instant range), its top pages,
  // sources and countries, under the page's filters; refreshed while open.
  const REALTIME_LISTS = [['event:page', 'Pages'], ['visit:source', 'Sources'], ['visit:country', 'Countries']];
  let realtimeTimer = null;
  function realtimeRange() {
    const to = new Date(Math.floor(Date.now() / 1000) * 1000);
    const from = new Date(to.getTime() - 30 * 60000);
    return [from.toISOString().replace('.000Z', 'Z'), to.toISOString().replace('.000Z', 'Z')];
  }
  function realtimeBody(range, extra) {
    const body = Object.assign({ site_id: view.site, date_range: range }, extra);
    body.filters = apiFilters().concat(extra.filters || []);
    return body;
  }
  async function renderRealtime() {
    const box = $('realtime');
    if (!box.open) return;
    box.dataset.state = 'loading';
    const range = realtimeRange();
    const ask = (body) => limited(() => postJson('/api/v2/query', body));
    const seriesBody = realtimeBody(range, { metrics: ['visitors'], dimensions: ['time:minute'], include: { time_labels: true } });
    const listBodies = REALTIME_LISTS.map(([dim]) => realtimeBody(range, { metrics: ['visitors'], dimensions: [dim], pagination: { limit: 10 } }));
    const [now, series, ...lists] = await Promise.all([
      limited(() => api('/api/v2/realtime?site_id=' + encodeURIComponent(view.site))),
      ask(seriesBody), ...listBodies.map(ask)]);
    if (!box.open) return;
    box.dataset.query = JSON.stringify(seriesBody);
    box.dataset.lists = JSON.stringify(listBodies);
    const n = now.visitors;
    const current = $('realtime-now');
    current.dataset.value = n;
    current.textContent = `${integer.format(n)} current visitor${n === 1 ? '' : 's'} (the last 5 minutes)`;
    const found = new Map(series.results.map((r) => [r.dimensions[0], r.metrics[0]]));
    const points = series.meta.time_labels.map((label) => ({ label, value: found.get(label) || 0 }));
    const width = 800; const height = 160; const left = 40; const bottom = 22; const top = 8;
    const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
    const slot = (width - left) / Math.max(points.length, 1);
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'realtime-caption', class: 'plot' });
    for (const v of [0, max]) {
      const y = height - bottom - (v * (height - top - bottom)) / max;
      chart.append(svg('line', { x1: left, y1: y, x2: width, y2: y, class: v ? 'grid' : 'axis' }));
      const tick = svg('text', { x: left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' });
      tick.textContent = integer.format(v);
      chart.append(tick);
    }
    points.forEach((p, i) => {
      const h = (p.value * (height - top - bottom)) / max;
      const bar = svg('rect', { x: left + i * slot + 1, y: height - bottom - h, width: Math.max(1, slot - 2), height: h, class: 'bar-minute', 'data-label': p.label, 'data-value': p.value });
      const title = svg('title', {}); title.textContent = `${p.label.slice(11, 16)}: ${p.value} visitors`;
      bar.append(title);
      chart.append(bar);
      if (i % 10 === 0 || i === points.length - 1) {
        const label = svg('text', { x: left + i * slot + slot / 2, y: height - 6, class: 'tick', 'text-anchor': 'middle' });
        label.textContent = p.label.slice(11, 16);
        chart.append(label);
      }
    });
    $('realtime-svg').replaceChildren(chart);
    $('realtime-caption').textContent = `Visitors per minute, ${points.length ? points[0].label.slice(11, 16) : ''} to ${points.length ? points[points.length - 1].label.slice(11, 16) : ''}`;
    $('realtime-lists').replaceChildren(...REALTIME_LISTS.map(([dim, title], i) => el('section', { 'data-dimension': dim },
      el('h3', { text: title }),
      breakdownTable(`Realtime: ${title}`, dim, dim, ['visitors'], lists[i].results))));
    // A click on a row filters the page (and closes the view).
    for (const button of $('realtime-lists').querySelectorAll('.row-filter')) button.addEventListener('click', () => $('realtime').close());
    box.dataset.state = 'ready';
    box.dataset.refreshes = String(Number(box.dataset.refreshes || 0) + 1);
  }
  function openRealtime() {
    const box = $('realtime');
    box.dataset.refreshes = '0';
    box.showModal();
    $('realtime-close').focus();
    renderRealtime().catch(showError);
    clearInterval(realtimeTimer);
    realtimeTimer = setInterval(() => renderRealtime().catch(() => { /* the next tick tries again */ }), 15000);
  }

  // ---- details: a panel's whole list ----------------------------------------
  // A dialog per panel tab: every row (a page at a time), searched by
  // part of the value, sorted by any column the API orders by, with more
  // metrics than the panel has room for, and exportable as CSV.
  const DETAILS_PAGE = 25;
  const SORTABLE = ['visitors', 'visits', 'pageviews', 'events', 'bounce_rate', 'visit_duration'];
  let details = null;
  /** The metrics of a tab's details (Plausible's per report). */
  function detailMetrics(tab) {
    const dim = tab.dim;
    if (dim === 'event:page') return ['visitors', 'pageviews', 'bounce_rate'].concat(engagementAnswerable(view.filters) ? ENGAGEMENT : []);
    if (dim === 'visit:exit_page') return ['visitors', 'visits', 'exit_rate'];
    if (dim === 'event:goal') return tab.metrics;
    if (dim === 'event:name' || dim.startsWith('event:props:')) return ['visitors', 'events'];
    return ['visitors', 'visits', 'percentage', 'bounce_rate', 'visit_duration'];
  }
  function openDetails(panel, tab) {
    details = { panel, tab, search: '', order: null, page: 0 };
    $('details-title').textContent = `${panel.title}: ${tab.label}`;
    $('details-search').value = '';
    $('details').showModal();
    $('details-search').focus();
    renderDetails().catch(showDetailsError);
  }
  function showDetailsError(e) { if (!(e instanceof Stale)) $('details-status').textContent = 'Could not load: ' + e.message; }
  function detailsBody(limit, offset) {
    const tab = details.tab;
    const dims = tab.dims || [tab.dim];
    const filters = (tab.filters || []).slice();
    if (details.search) filters.push(['contains', dims[dims.length - 1], [details.search], { case_sensitive: false }]);
    const body = queryBody({ metrics: detailMetrics(tab), dimensions: dims, filters, pagination: { limit, offset }, include: { total_rows: true } });
    if (details.order) body.order_by = [details.order];
    return body;
  }
  let detailsAsked = 0;
  async function renderDetails() {
    const mine = details;
    const asked = ++detailsAsked;
    const box = $('details');
    const body = detailsBody(DETAILS_PAGE, details.page * DETAILS_PAGE);
    box.dataset.query = JSON.stringify(body);
    box.dataset.state = 'loading';
    $('details-status').textContent = '';
    const answer = await limited(() => postJson('/api/v2/query', body));
    // Dropped if the dialog closed, or a newer page, sort or search was asked.
    if (details !== mine || asked !== detailsAsked) return;
    const tab = details.tab;
    const table = breakdownTable(`${details.panel.title}: ${tab.label}, all rows`, tab.dim, tab.filterDim || tab.dim, body.metrics, answer.results, tab.columns, tab.dims);
    // Row filters close the dialog: the whole page follows them.
    for (const button of table.querySelectorAll('.row-filter')) button.addEventListener('click', () => $('details').close());
    for (const th of table.tHead.rows[0].cells) {
      const key = th.dataset.key;
      if (!(SORTABLE.includes(key) || key === (tab.dims || [tab.dim])[0])) continue;
      const current = details.order && details.order[0] === key ? details.order[1] : null;
      th.setAttribute('aria-sort', current === 'asc' ? 'ascending' : current === 'desc' ? 'descending' : 'none');
      const label = th.textContent;
      th.replaceChildren(el('button', {
        type: 'button', class: 'sort', 'data-key': key,
        'aria-label': `Sort by ${label}${current === 'desc' ? ', ascending' : ', descending'}`,
        on: { click: () => {
          details.order = [key, current === 'desc' ? 'asc' : 'desc'];
          details.page = 0;
          renderDetails().catch(showDetailsError);
        } },
      }, el('span', { text: label }), el('span', { 'aria-hidden': 'true', text: current === 'desc' ? ' ↓' : current === 'asc' ? ' ↑' : '' })));
    }
    $('details-table').replaceChildren(table);
    const total = answer.meta.total_rows || 0;
    const first = total ? details.page * DETAILS_PAGE + 1 : 0;
    const last = details.page * DETAILS_PAGE + answer.results.length;
    const pager = $('details-page');
    pager.dataset.total = total;
    pager.textContent = total ? `${integer.format(first)}–${integer.format(last)} of ${integer.format(total)}` : 'No rows';
    $('details-prev').disabled = details.page === 0;
    $('details-next').disabled = last >= total;
    box.dataset.state = 'ready';
  }
  let searchTimer = null;

  // ---- CSV ---------------------------------------------------------------------
  // RFC 4180 quoting; a text cell that a spreadsheet would take for a
  // formula (= + - @, tab, carriage return first) is prefixed with an
  // apostrophe, so exported data never runs as a formula. Numbers are
  // written as numbers, money as its amount.
  function csvCell(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'object') return String(value.value);
    if (typeof value === 'number') return String(value);
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  const csvLines = (rows) => rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
  function download(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const link = el('a', { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  const fileSafe = (text) => text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase();
  const fileName = (what) => fileSafe(`${view.site}-${what}-${$('period-range').dataset.from || ''}-${$('period-range').dataset.to || ''}`) + '.csv';
  /** A header row and a row per result: dimension values, then metrics. */
  function tableRows(dims, metrics, results) {
    const head = dims.map((d) => (d.startsWith('event:props:') ? d.slice(12) : DIMENSION_NAMES[d] || (d.startsWith('time:') ? 'Time' : d))).concat(metrics.map((m) => METRIC_NAMES[m] || m));
    return [head].concat(results.map((r) => r.dimensions.concat(r.metrics)));
  }
  async function detailsCsv() {
    const body = detailsBody(10000, 0);
    // Every row, not the count of them (imported data stays asked for).
    delete body.include.total_rows;
    if (!Object.keys(body.include).length) delete body.include;
    const answer = await limited(() => postJson('/api/v2/query', body));
    download(fileName(`${details.panel.id}-${details.tab.label}`), csvLines(tableRows(body.dimensions, body.metrics, answer.results)));
  }
  /**
   * The whole dashboard as one CSV: a section per report (a line naming
   * it, a header, its rows, a blank line): the headline, the chart's
   * series and every tab of every panel, all rows, for the current view.
   */
  async function dashboardCsv() {
    const button = $('export-all');
    button.disabled = true;
    try {
      const ask = (extra) => limited(() => postJson('/api/v2/query', queryBody(extra)));
      const sections = [];
      const metrics = headlineMetrics(view.filters);
      const headline = await ask({ metrics });
      const top = headline.results[0] || { metrics: [] };
      sections.push([['Top stats'], ['Metric', 'Value']].concat(metrics.map((m, i) => [METRIC_NAMES[m], top.metrics[i]])));
      const metric = chartMetrics(view.filters).includes(view.metric) ? view.metric : chartMetrics(view.filters)[0];
      const dim = intervals().includes(view.interval) ? view.interval : intervals()[0];
      const series = await ask({ metrics: [metric], dimensions: [dim] });
      sections.push([[`${METRIC_NAMES[metric]} per ${dim.slice(5)}`]].concat(tableRows([dim], [metric], series.results)));
      const jobs = [];
      for (const panel of PANELS) {
        for (const tab of panel.tabs) {
          const dims = tab.dims || [tab.dim];
          const tabMetrics = detailMetrics(tab);
          jobs.push(ask({ metrics: tabMetrics, dimensions: dims, filters: tab.filters || [], pagination: { limit: 10000 } })
            .then((answer) => [[`${panel.title}: ${tab.label}`]].concat(tableRows(dims, tabMetrics, answer.results))));
        }
      }
      for (const section of await Promise.all(jobs)) sections.push(section);
      download(fileName('dashboard'), sections.map(csvLines).join('\r\n'));
    } finally {
      button.disabled = false;
    }
  }

  // ---- page flow -----------------------------------------------------------
  let generation = 0;
  function showError(e) {
    if (e instanceof Stale) return;
    if (e instanceof ApiError && e.status === 401 && auth.mode !== 'share') { showLogin(); return; }
    setStatus('Could not load: ' + e.message);
  }

  /** Empty panels in their fixed order, filled as their answers arrive. */
  function placeholders() {
    for (const id of PANELS.map((p) => p.id).concat(['props', 'funnels'])) {
      if (!$('panel-' + id)) $('panels').append(el('section', { class: 'panel', id: 'panel-' + id, 'aria-busy': 'true' }));
    }
  }

  async function render() {
    const mine = ++generation;
    placeholders();
    const board = $('board');
    board.dataset.state = 'loading';
    setStatus('Loading…');
    renderChips();
    $('site').value = view.site;
    $('period').value = view.period;
    $('compare').value = view.compare;
    $('match-weekday').checked = view.matchWeekday;
    $('imports').checked = view.imports;
    $('exact').checked = view.exact;
    $('match-weekday').disabled = view.compare === 'off';
    $('custom').hidden = view.period !== 'custom';
    $('from').value = view.from; $('to').value = view.to;
    if (view.period === 'custom' && !(view.from && view.to)) {
      board.dataset.state = 'ready'; setStatus('Pick a date range'); return;
    }
    try { await todayOf(view.site); } catch (e) { if (mine === generation) { showError(e); board.dataset.state = 'error'; } return; }
    if (mine !== generation) return;
    $('period-prev').disabled = !stepped(-1);
    $('period-next').disabled = !stepped(1);
    const work = [renderHeadline(), renderChart(), ...PANELS.map(renderPanel), renderProperties(), renderFunnels(), renderLive(), renderShares()];
    const results = await Promise.allSettled(work);
    if (mine !== generation) return;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) { showError(failed.reason); board.dataset.state = 'error'; return; }
    board.dataset.state = 'ready';
    board.dataset.generation = String(mine);
    setStatus('');
  }

  function navigate() { writeView(view, false); render(); }

  function showLogin() {
    $('board').hidden = true; $('controls').hidden = true; $('login').hidden = false;
    if (liveTimer) { clearInterval(liveTimer); liveTimer = null; }
    setStatus('');
    $('user').focus();
  }

  function showBoard(me) {
    auth.mode = me.mode; auth.sites = me.sites; auth.credit = me.geo_attribution || null;
    $('login').hidden = true; $('board').hidden = false; $('controls').hidden = false;
    $('logout').hidden = me.mode !== 'user';
    $('readonly').hidden = me.mode !== 'share';
    $('site').replaceChildren(...me.sites.map((s) => el('option', { value: s, text: s })));
    $('site').disabled = me.sites.length < 2;
    if (!me.sites.includes(view.site)) view.site = me.sites[0] || '';
    writeView(view, true);
    if (!liveTimer) liveTimer = setInterval(renderLive, 30000);
    render();
  }

  async function start() {
    if (location.pathname === '/share') {
      const token = location.hash.replace(/^#/, '');
      if (!token) { setStatus('This share link is incomplete.'); return; }
      auth.token = token;
    }
    try {
      showBoard(await api('/api/dashboard/me'));
    } catch (e) {
      if (auth.token) setStatus('This share link is unknown or was revoked.');
      else if (e.status === 401) showLogin();
      else setStatus('Could not load: ' + e.message);
    }
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      await postJson('/api/dashboard/login', { user: $('user').value, password: $('password').value });
      $('password').value = '';
      showBoard(await api('/api/dashboard/me'));
      $('main').focus();
    } catch (e) {
      $('login-error').textContent = e.status === 401 ? 'Wrong user name or password.' : e.message;
    }
  });
  $('logout').addEventListener('click', async () => {
    try { await postJson('/api/dashboard/logout', {}); } finally { showLogin(); }
  });
  $('site').addEventListener('change', (e) => { view.site = e.target.value; view.filters = []; view.prop = ''; navigate(); });
  $('filter-form').addEventListener('submit', applyFilterMenu);
  $('details-close').addEventListener('click', () => $('details').close());
  $('live').addEventListener('click', openRealtime);
  $('realtime-close').addEventListener('click', () => $('realtime').close());
  $('realtime').addEventListener('close', () => { clearInterval(realtimeTimer); realtimeTimer = null; });
  $('details').addEventListener('close', () => { details = null; });
  $('details-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      if (!details) return;
      details.search = $('details-search').value.trim();
      details.page = 0;
      renderDetails().catch(showDetailsError);
    }, 250);
  });
  $('details-prev').addEventListener('click', () => { details.page -= 1; renderDetails().catch(showDetailsError); });
  $('details-next').addEventListener('click', () => { details.page += 1; renderDetails().catch(showDetailsError); });
  $('details-csv').addEventListener('click', () => detailsCsv().catch(showDetailsError));
  $('export-all').addEventListener('click', () => dashboardCsv().catch(showError));
  $('filter-cancel').addEventListener('click', () => { $('filter-dialog').close(); editing = null; });
  $('filter-dim').addEventListener('change', () => filterMenuChanged());
  $('filter-prop').addEventListener('change', () => filterMenuChanged());
  $('chart-metric').addEventListener('change', (e) => {
    view.metric = e.target.value; writeView(view, false); renderChart().catch(showError);
  });
  $('chart-interval').addEventListener('change', (e) => {
    view.interval = e.target.value; writeView(view, false); renderChart().catch(showError);
  });
  $('compare').addEventListener('change', (e) => { view.compare = e.target.value; navigate(); });
  $('match-weekday').addEventListener('change', (e) => { view.matchWeekday = e.target.checked; navigate(); });
  $('imports').addEventListener('change', (e) => { view.imports = e.target.checked; navigate(); });
  $('exact').addEventListener('change', (e) => { view.exact = e.target.checked; navigate(); });
  for (const [id, direction] of [['period-prev', -1], ['period-next', 1]]) {
    $(id).addEventListener('click', () => {
      const next = stepped(direction);
      if (next) { view = next; navigate(); }
    });
  }
  $('period').addEventListener('change', (e) => {
    view.period = e.target.value;
    view.date = '';
    // Each period starts with its usual interval.
    view.interval = '';
    if (view.period === 'custom' && !(view.from && view.to)) {
      const today = new Date().toISOString().slice(0, 10);
      view.to = today;
      view.from = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
    }
    navigate();
  });
  $('custom').addEventListener('submit', (e) => {
    e.preventDefault();
    view.from = $('from').value; view.to = $('to').value;
    if (view.from && view.to && view.from <= view.to) navigate(); else setStatus('The start must not be after the end.');
  });
  $('share-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const link = await postJson('/api/dashboard/shares', { site: view.site, label: $('share-label').value.trim() });
      $('share-label').value = '';
      $('share-url').value = location.origin + link.path;
      $('share-copied').textContent = '';
      $('share-new').hidden = false;
      $('share-url').select();
      renderShares().catch(showError);
    } catch (e) { showError(e); }
  });
  $('share-copy').addEventListener('click', async () => {
    const url = $('share-url').value;
    try {
      await navigator.clipboard.writeText(url);
    } catch (e) {
      // No clipboard API (a page not served over HTTPS or localhost): the
      // selection and the older copy command.
      $('share-url').select();
      document.execCommand('copy');
    }
    $('share-copied').textContent = 'Copied';
  });
  window.addEventListener('popstate', () => { view = readView(); render(); });
  start();
})();
