import type { IncomingMessage, ServerResponse } from 'node:http';
import { type IngestionDelay, ingestionDelayOf } from '../../bin/cli/operations/lag.ts';
import type { LocalIndexStatus, LocalStatus } from './stack.ts';

/** The figures a sample shows, of the stack (the top of the page) or of one index (its row). */
interface SampledFigures {
  /** The ingestion-delay endpoint's figure at that moment (of this index's writer, in an index's row). */
  lagMs: number;
  /** Changes the writer applied since the previous sample, per second. */
  changesPerSecond: number;
  pendingMessages: number;
  dlqDepth: number;
  circuit: IngestionDelay['circuit'];
  /** The running re-sync, e.g. `first load 5000/~20000 (backfilling)`; absent when none runs. */
  load?: string;
}

/** One index's figures in a sample: the page's row of that index. */
export interface IndexSample extends SampledFigures {
  alias: string;
  /** Undefined while Typesense does not answer. */
  documents: number | undefined;
}

/** One second of the embedded stack, as `GET /v1/history` answers it. */
export interface HistorySample extends SampledFigures {
  /** When the sample was taken, epoch ms. */
  at: number;
  /** Every index's own figures, the first first (the figures above are the stack's, as before). */
  indexes: IndexSample[];
}

/** The running re-sync in a few words: the first load (before the alias exists) or a migration. */
export function describeLoad(load: LocalStatus['load']): string | undefined {
  if (load === undefined) return undefined;
  const of = load.estimatedItems === undefined ? '' : `/~${load.estimatedItems}`;
  return `${load.firstLoad ? 'first load' : 're-sync'} ${load.scanned}${of} (${load.phase})`;
}

export interface StatusHistoryOptions {
  /** Default 1 s. */
  intervalMs?: number;
  /** Samples kept, oldest dropped first. Default 600: ten minutes at one per second. */
  capacity?: number;
}

/** Changes per second between two counts taken `elapsedMs` apart, to one decimal; 0 without a gap. */
const perSecond = (count: number, previous: number | undefined, elapsedMs: number) =>
  previous === undefined || elapsedMs <= 0 ? 0 : Math.round(((count - previous) * 10_000) / elapsedMs) / 10;

function indexSample(index: LocalIndexStatus, at: number, changesPerSecond: number): IndexSample {
  return {
    alias: index.alias,
    documents: index.documents,
    lagMs: ingestionDelayOf(index, at).lagMs,
    changesPerSecond,
    pendingMessages: index.pendingMessages,
    dlqDepth: index.dlqDepth,
    circuit: index.circuit,
    ...(index.load === undefined ? {} : { load: describeLoad(index.load) }),
  };
}

/** Samples the stack's status on a timer and keeps the latest samples for the status page. */
export class StatusHistory {
  readonly intervalMs: number;
  private readonly capacity: number;
  private readonly kept: HistorySample[] = [];
  /** The previous sample's time and counts: the stack's, and each index's by alias. */
  private previous: { at: number; changesApplied: number; byIndex: Map<string, number> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly status: () => Promise<LocalStatus>,
    options: StatusHistoryOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.capacity = options.capacity ?? 600;
  }

  start(): void {
    this.timer = setInterval(() => {
      // On a loaded machine a status can take longer than a tick: skip ticks rather than pile up.
      this.sampling ??= this.sample().finally(() => {
        this.sampling = undefined;
      });
    }, this.intervalMs);
  }

  /** Stops the timer and waits for a sample in progress, so nothing touches a stopped stack. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  samples(): HistorySample[] {
    return [...this.kept];
  }

  private async sample(): Promise<void> {
    // A status that fails (the stack is stopping) just skips a tick.
    const status = await this.status().catch(() => undefined);
    if (status === undefined) return;
    const at = Date.now();
    const previous = this.previous;
    this.previous = {
      at,
      changesApplied: status.changesApplied,
      byIndex: new Map(status.indexes.map((index) => [index.alias, index.changesApplied])),
    };
    // Measured over the real gap between samples: timers drift when the machine is busy.
    const elapsedMs = previous === undefined ? 0 : at - previous.at;
    this.kept.push({
      at,
      lagMs: ingestionDelayOf(status, at).lagMs,
      changesPerSecond: perSecond(status.changesApplied, previous?.changesApplied, elapsedMs),
      pendingMessages: status.pendingMessages,
      dlqDepth: status.dlqDepth,
      circuit: status.circuit,
      ...(status.load === undefined ? {} : { load: describeLoad(status.load) }),
      indexes: status.indexes.map((index) =>
        indexSample(
          index,
          at,
          perSecond(index.changesApplied, previous?.byIndex.get(index.alias), elapsedMs),
        ),
      ),
    });
    if (this.kept.length > this.capacity) this.kept.shift();
  }
}

/** The page may run its own inline script and call back home, nothing else. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";

/**
 * Answers `GET /` (the page) and `GET /v1/history`; returns false for any other request so the
 * caller can answer it.
 */
export function serveStatusPage(
  request: IncomingMessage,
  response: ServerResponse,
  history: StatusHistory,
): boolean {
  if (request.method !== 'GET') return false;
  if (request.url === '/') {
    response
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'cache-control': 'no-store',
      })
      .end(STATUS_PAGE_HTML);
    return true;
  }
  if (request.url === '/v1/history') {
    response
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify({ intervalMs: history.intervalMs, samples: history.samples() }));
    return true;
  }
  return false;
}

// Self-contained (the machine may have no internet): inline style, inline SVG, inline script. The
// script writes figures with textContent and attributes only, never markup.
const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>typesense-sync · local status</title>
<style>
  :root { color-scheme: light; --ink: #1d2433; --muted: #6b7385; --line: #2f6fde; --grid: #e3e7ef; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: var(--ink); background: #f6f7fa; }
  main { max-width: 960px; margin: 0 auto; padding: 24px; }
  header { display: flex; justify-content: space-between; align-items: baseline; gap: 16px; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  #updated { color: var(--muted); font-size: 13px; }
  #updated[data-state="unreachable"] { color: #b3261e; }
  .figures { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-bottom: 16px; }
  .figure { background: #fff; border: 1px solid var(--grid); border-radius: 8px; padding: 12px 14px; }
  .figure h2 { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em;
    color: var(--muted); margin: 0 0 6px; }
  .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .unit { color: var(--muted); font-size: 13px; margin-left: 4px; }
  [data-testid="dlq-depth"][data-alert="true"] { color: #b3261e; }
  [data-testid="circuit"][data-state="closed"] { color: #1e7d32; }
  [data-testid="circuit"][data-state="half-open"] { color: #a15c00; }
  [data-testid="circuit"][data-state="open"] { color: #b3261e; }
  .indexes { background: #fff; border: 1px solid var(--grid); border-radius: 8px; padding: 12px 14px;
    margin-bottom: 16px; }
  .indexes h2 { font-size: 14px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
    text-align: right; padding: 4px 8px; }
  td { text-align: right; padding: 4px 8px; border-top: 1px solid var(--grid); }
  th:first-child, td:first-child, th:last-child, td:last-child { text-align: left; }
  td[data-field="dlq-depth"][data-alert="true"] { color: #b3261e; font-weight: 600; }
  td[data-field="circuit"][data-state="half-open"] { color: #a15c00; }
  td[data-field="circuit"][data-state="open"] { color: #b3261e; }
  .chart { background: #fff; border: 1px solid var(--grid); border-radius: 8px; padding: 12px 14px; }
  .chart h2 { font-size: 14px; margin: 0 0 8px; }
  svg { width: 100%; height: auto; display: block; }
  .grid line { stroke: var(--grid); }
  .axis text { fill: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
  [data-testid="lag-line"] { fill: none; stroke: var(--line); stroke-width: 2; stroke-linejoin: round; }
  #lag-area { fill: var(--line); opacity: .12; }
</style>
</head>
<body>
<main>
  <header>
    <h1>typesense-sync · local status</h1>
    <span id="updated">waiting for the first sample…</span>
  </header>
  <section class="figures">
    <div class="figure"><h2>Lag</h2><span class="value" data-testid="lag-ms">—</span><span class="unit">ms</span></div>
    <div class="figure"><h2>Throughput</h2><span class="value" data-testid="throughput">—</span><span class="unit">changes/s</span></div>
    <div class="figure"><h2>Pending</h2><span class="value" data-testid="pending-messages">—</span><span class="unit">messages</span></div>
    <div class="figure"><h2>DLQ</h2><span class="value" data-testid="dlq-depth">—</span><span class="unit">messages</span></div>
    <div class="figure"><h2>Circuit</h2><span class="value" data-testid="circuit">—</span></div>
    <div class="figure"><h2>Load</h2><span class="value" data-testid="load">—</span></div>
  </section>
  <section class="indexes">
    <h2>Indexes (each its own changes queue, DLQ, writer and re-sync)</h2>
    <table data-testid="indexes">
      <thead><tr><th>Index</th><th>Documents</th><th>Lag ms</th><th>Changes/s</th><th>Pending</th><th>DLQ</th>
        <th>Circuit</th><th>Re-sync</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="chart">
    <h2>Lag over time (item timestamp → applied; age of stuck changes)</h2>
    <svg data-testid="lag-chart" data-sample-count="0" viewBox="0 0 800 260" role="img" aria-label="Lag over time">
      <g class="grid">
        <line x1="56" x2="788" y1="12" y2="12"/><line x1="56" x2="788" y1="67" y2="67"/>
        <line x1="56" x2="788" y1="122" y2="122"/><line x1="56" x2="788" y1="177" y2="177"/>
        <line x1="56" x2="788" y1="232" y2="232"/>
      </g>
      <g class="axis">
        <text class="y-label" x="50" y="16" text-anchor="end"></text>
        <text class="y-label" x="50" y="71" text-anchor="end"></text>
        <text class="y-label" x="50" y="126" text-anchor="end"></text>
        <text class="y-label" x="50" y="181" text-anchor="end"></text>
        <text class="y-label" x="50" y="236" text-anchor="end"></text>
        <text id="x-from" x="56" y="252"></text>
        <text x="788" y="252" text-anchor="end">now</text>
      </g>
      <polygon id="lag-area" points=""/>
      <polyline data-testid="lag-line" points=""/>
    </svg>
  </section>
</main>
<script>
(() => {
  const LEFT = 56, RIGHT = 788, TOP = 12, BOTTOM = 232;
  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]');
  const updated = document.getElementById('updated');

  // The axis top: the smallest 1, 2, 4, 6, 8 or 10 × 10^n at or above the largest lag, at least
  // 1 s, so that its four gridline steps are round figures.
  const axisTop = (ms) => {
    const power = Math.pow(10, Math.floor(Math.log10(Math.max(ms, 1000))));
    return [1, 2, 4, 6, 8, 10].map((m) => m * power).find((top) => top >= ms);
  };
  const duration = (ms) =>
    ms >= 120000 ? Math.round(ms / 60000) + ' min'
    : ms >= 1000 ? Number((ms / 1000).toFixed(1)) + ' s'
    : ms === 0 ? '0' : ms + ' ms';

  function drawChart(samples) {
    byTestId('lag-chart').setAttribute('data-sample-count', String(samples.length));
    if (samples.length === 0) return;
    const first = samples[0].at;
    const spanMs = Math.max(samples[samples.length - 1].at - first, 1);
    const top = axisTop(Math.max(...samples.map((sample) => sample.lagMs)));
    const x = (at) => LEFT + ((at - first) / spanMs) * (RIGHT - LEFT);
    const y = (ms) => BOTTOM - (ms / top) * (BOTTOM - TOP);
    const points = samples.map((sample) => x(sample.at).toFixed(1) + ',' + y(sample.lagMs).toFixed(1));
    byTestId('lag-line').setAttribute('points', points.join(' '));
    const base = [x(samples[samples.length - 1].at).toFixed(1) + ',' + BOTTOM, LEFT + ',' + BOTTOM];
    document.getElementById('lag-area').setAttribute('points', points.concat(base).join(' '));
    document.querySelectorAll('.y-label').forEach((label, index) => {
      label.textContent = duration((top * (4 - index)) / 4);
    });
    document.getElementById('x-from').textContent = '−' + duration(Math.round(spanMs / 1000) * 1000);
  }

  function showFigures(latest) {
    byTestId('lag-ms').textContent = String(latest.lagMs);
    byTestId('throughput').textContent = String(latest.changesPerSecond);
    byTestId('pending-messages').textContent = String(latest.pendingMessages);
    const dlq = byTestId('dlq-depth');
    dlq.textContent = String(latest.dlqDepth);
    dlq.setAttribute('data-alert', String(latest.dlqDepth > 0));
    const circuit = byTestId('circuit');
    circuit.textContent = latest.circuit;
    circuit.setAttribute('data-state', latest.circuit);
    // The first load (before the alias exists) or a migration, while one runs.
    byTestId('load').textContent = latest.load === undefined ? 'none' : latest.load;
  }

  // One row per index, kept by alias; its cells by field, in the order of the table's head.
  const INDEX_FIELDS = ['alias', 'documents', 'lag-ms', 'throughput', 'pending-messages', 'dlq-depth', 'circuit', 'load'];
  function indexRow(alias) {
    const rows = document.querySelector('[data-testid="indexes"] tbody');
    const existing = Array.from(rows.children).find((row) => row.getAttribute('data-alias') === alias);
    if (existing !== undefined) return existing;
    const row = document.createElement('tr');
    row.setAttribute('data-testid', 'index-row');
    row.setAttribute('data-alias', alias);
    for (const field of INDEX_FIELDS) {
      const cell = document.createElement('td');
      cell.setAttribute('data-field', field);
      row.appendChild(cell);
    }
    rows.appendChild(row);
    return row;
  }

  function showIndexes(indexes) {
    for (const index of indexes) {
      const row = indexRow(index.alias);
      const cell = (field) => row.querySelector('[data-field="' + field + '"]');
      cell('alias').textContent = index.alias;
      cell('documents').textContent = index.documents === undefined ? '—' : String(index.documents);
      cell('lag-ms').textContent = String(index.lagMs);
      cell('throughput').textContent = String(index.changesPerSecond);
      cell('pending-messages').textContent = String(index.pendingMessages);
      cell('dlq-depth').textContent = String(index.dlqDepth);
      cell('dlq-depth').setAttribute('data-alert', String(index.dlqDepth > 0));
      cell('circuit').textContent = index.circuit;
      cell('circuit').setAttribute('data-state', index.circuit);
      cell('load').textContent = index.load === undefined ? 'none' : index.load;
    }
  }

  async function poll() {
    try {
      const response = await fetch('/v1/history', { cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const { samples } = await response.json();
      drawChart(samples);
      if (samples.length > 0) {
        showFigures(samples[samples.length - 1]);
        showIndexes(samples[samples.length - 1].indexes);
      }
      updated.textContent = 'updated ' + new Date().toLocaleTimeString();
      updated.removeAttribute('data-state');
    } catch (error) {
      updated.textContent = 'stack unreachable: ' + error.message;
      updated.setAttribute('data-state', 'unreachable');
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
</script>
</body>
</html>
`;
