/**
 * The ops console page (bundled by ../http.ts). Views by location hash: `#/` executions (filters, live:
 * polled every POLL_MS), `#/x/<name>` one execution, `#/fleet` the fleet. preact + htm render; dagre lays
 * out the state graph, drawn as plain SVG.
 */
import { Graph, layout } from '@dagrejs/dagre';
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ExecutionCost } from '../../../tasks/shared/cost';
import { AUDIT_OUTCOME_NAMES } from '../../../tasks/shared/outcome-names';
import type { ExecutionDetail, ExecutionFilter, ExecutionRow } from '../data';
import type { FleetView } from '../fleet';
import type { GraphDefinition } from '../graph';

const API = '/console/api';
const POLL_MS = 2000;
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(`${API}${path}`);
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  return body;
}

/** Fetches `path` now and every POLL_MS while `live`; re-fetches when `path` changes. */
function usePolled<T>(path: string, live: boolean): { data?: T; error?: string; at?: Date } {
  const [state, setState] = useState<{ data?: T; error?: string; at?: Date }>({});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await getJson<T>(path);
        if (!stopped) setState({ data, at: new Date() });
      } catch (err) {
        if (!stopped) setState((s) => ({ ...s, error: String(err instanceof Error ? err.message : err) }));
      }
      if (!stopped && live) timer = setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [path, live]);
  return state;
}

const time = (iso?: string) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
const usd = (n: number) => `$${n < 0.01 ? n.toFixed(6) : n.toFixed(4)}`;
const badge = (s?: string) =>
  html`<span class=${`badge b-${(s ?? 'none').toLowerCase()}`}>${s ?? '—'}</span>`;

function FilterField(props: {
  id: string;
  label: string;
  value?: string;
  options?: string[];
  type?: string;
  set: (v: string) => void;
}) {
  const onInput = (e: Event) => props.set((e.target as HTMLInputElement).value);
  return html`<div class="field">
    <label for=${props.id}>${props.label}</label>
    ${
      props.options
        ? html`<select id=${props.id} value=${props.value ?? ''} onChange=${onInput}>
            <option value="">any</option>
            ${props.options.map((o) => html`<option value=${o}>${o}</option>`)}
          </select>`
        : html`<input id=${props.id} type=${props.type ?? 'text'} value=${props.value ?? ''} onInput=${onInput} />`
    }
  </div>`;
}

function queryOf(f: ExecutionFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f))
    if (v) q.set(k, k === 'until' || k === 'since' ? new Date(v).toISOString() : v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function ExecutionsView() {
  const [filter, setFilter] = useState<ExecutionFilter>({});
  const { data, error, at } = usePolled<ExecutionRow[]>(`/executions${queryOf(filter)}`, true);
  const set = (k: keyof ExecutionFilter) => (v: string) => setFilter((f) => ({ ...f, [k]: v || undefined }));
  return html`<section aria-labelledby="h-list">
    <h1 id="h-list">Remediations</h1>
    <form class="filters" role="search" aria-label="Filter executions" onSubmit=${(e: Event) => e.preventDefault()}>
      <${FilterField} id="f-status" label="Status" options=${STATUSES} value=${filter.status} set=${set('status')} />
      <${FilterField} id="f-outcome" label="Outcome" options=${AUDIT_OUTCOME_NAMES} value=${filter.outcome} set=${set('outcome')} />
      <${FilterField} id="f-rule" label="Rule" value=${filter.rule} set=${set('rule')} />
      <${FilterField} id="f-resource" label="Resource" value=${filter.resource} set=${set('resource')} />
      <${FilterField} id="f-account" label="Account" value=${filter.account} set=${set('account')} />
      <${FilterField} id="f-since" label="Started after" type="datetime-local" value=${filter.since} set=${set('since')} />
      <${FilterField} id="f-until" label="Started before" type="datetime-local" value=${filter.until} set=${set('until')} />
    </form>
    <p role="status" aria-live="polite" class="status">
      ${error ? `Error: ${error}` : data ? `${data.length} executions · updated ${at?.toLocaleTimeString('en-GB') ?? ''}` : 'Loading…'}
    </p>
    ${data ? html`<${ExecutionTable} rows=${data} />` : null}
  </section>`;
}

function ExecutionTable({ rows }: { rows: ExecutionRow[] }) {
  return html`<table class="executions">
    <caption class="sr">Executions, newest first</caption>
    <thead><tr><th scope="col">Execution</th><th scope="col">Status</th><th scope="col">Outcome</th>
      <th scope="col">Rule</th><th scope="col">Resource</th><th scope="col">Account / region</th><th scope="col">Started</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr>
        <td><a href=${`#/x/${encodeURIComponent(r.name)}`}>${r.name}</a></td>
        <td>${badge(r.status)}</td><td>${badge(r.outcome)}</td><td>${r.rule ?? '—'}</td>
        <td><span class="type">${r.resourceType ?? ''}</span> ${r.resourceId ?? ''}</td>
        <td>${r.account ?? ''} ${r.region ?? ''}</td><td>${time(r.startDate)}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}

const NODE_H = 34;
const nodeWidth = (name: string) => Math.max(90, name.length * 7 + 24);

/** dagre positions for the definition's states and transitions. */
function laidOut(def: GraphDefinition) {
  const g = new Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 28, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of def.nodes) g.setNode(n.name, { width: nodeWidth(n.name), height: NODE_H });
  for (const e of def.edges) if (g.hasNode(e.to)) g.setEdge(e.from, e.to);
  layout(g);
  const size = g.graph();
  return { g, width: size.width ?? 0, height: size.height ?? 0 };
}

function StateGraph({ def, path, running }: { def: GraphDefinition; path: string[]; running: boolean }) {
  const { g, width, height } = laidOut(def);
  const taken = new Set(path);
  const takenEdges = new Set(path.slice(1).map((to, i) => `${path[i]}→${to}`));
  const current = running ? path[path.length - 1] : undefined;
  const label = `State graph of ${def.nodes.length} states. Path taken: ${path.join(' → ')}`;
  return html`<figure class="graph">
    <svg role="img" aria-label=${label} viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height}>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" /></marker></defs>
      ${g.edges().map((e) => {
        const pts = g.edge(e).points ?? [];
        const on = takenEdges.has(`${e.v}→${e.w}`);
        return html`<polyline class=${on ? 'edge taken' : 'edge'} points=${pts.map((p: { x: number; y: number }) => `${p.x},${p.y}`).join(' ')} marker-end="url(#arrow)" />`;
      })}
      ${def.nodes.map((n) => {
        const p = g.node(n.name);
        const cls = `node t-${n.type.toLowerCase()}${taken.has(n.name) ? ' taken' : ''}${current === n.name ? ' current' : ''}`;
        const w = nodeWidth(n.name);
        return html`<g class=${cls} data-state=${n.name} transform=${`translate(${p.x - w / 2},${p.y - NODE_H / 2})`}>
          <title>${n.name} (${n.type})${taken.has(n.name) ? ', taken' : ''}</title>
          <rect width=${w} height=${NODE_H} rx="6" /><text x=${w / 2} y=${NODE_H / 2 + 4}>${n.name}</text>
        </g>`;
      })}
    </svg>
    <figcaption>Highlighted: the states and transitions this execution took${current ? `; it is now in “${current}”` : ''}.</figcaption>
  </figure>`;
}

function recordedText(r: ExecutionDetail['recordedCost']): string {
  if (!r) return 'none (no outcome recorded yet)';
  if ('unavailable' in r) return `not recorded (${r.unavailable})`;
  return `${usd(r.usd.total)}${r.complete ? '' : ' (history cut short)'}`;
}

function CostView({ cost, recorded }: { cost: ExecutionCost; recorded: ExecutionDetail['recordedCost'] }) {
  return html`<dl class="facts">
    <dt>Total</dt><dd class="cost-total">${usd(cost.usd.total)}</dd>
    <dt>On the outcome record</dt><dd class="cost-recorded">${recordedText(recorded)}</dd>
    <dt>State transitions</dt><dd>${cost.transitions} (${usd(cost.usd.transitions)})</dd>
    <dt>Lambda requests</dt><dd>${cost.lambdaInvocations} (${usd(cost.usd.lambdaRequests)})${cost.estimatedInvocations ? `, ${cost.estimatedInvocations} duration estimated` : ''}</dd>
    <dt>Lambda duration</dt><dd>${cost.lambdaBilledMs} ms billed, ${cost.lambdaGbSeconds} GB-s (${usd(cost.usd.lambdaDuration)})</dd>
    <dt>Prices</dt><dd>${cost.prices.region}, as of ${cost.prices.asOf}</dd>
  </dl>`;
}

function ApprovalView({ a }: { a: NonNullable<ExecutionDetail['approval']> }) {
  return html`<dl class="facts approval">
    <dt>Decision</dt><dd>${a.decision ?? '—'}</dd>
    <dt>Approver</dt><dd>${a.approver ?? '—'}</dd>
    <dt>When</dt><dd>${time(a.decidedAt)}</dd>
    <dt>From</dt><dd>${a.sourceIp ?? '—'}${a.userAgent ? html` <span class="ua">${a.userAgent}</span>` : ''}</dd>
    <dt>Comment</dt><dd>${a.comment ?? '—'}</dd>
  </dl>`;
}

function AutomationView({ a }: { a: NonNullable<ExecutionDetail['automation']> }) {
  return html`<p>${a.document ?? ''} · ${a.id} · ${badge(a.status)}${a.failureMessage ? ` — ${a.failureMessage}` : ''}</p>
    <table><thead><tr><th scope="col">Step</th><th scope="col">Action</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Outputs</th></tr></thead>
    <tbody>${a.steps.map(
      (
        s,
      ) => html`<tr><td>${s.name}</td><td>${s.action ?? ''}</td><td>${badge(s.status)}</td><td>${time(s.startedAt)}</td>
        <td>${s.outputs ? html`<pre>${s.outputs}</pre>` : (s.failureMessage ?? '')}</td></tr>`,
    )}</tbody></table>`;
}

function HistoryTable({ steps }: { steps: ExecutionDetail['steps'] }) {
  return html`<table class="history">
    <thead><tr><th scope="col">State</th><th scope="col">Entered</th><th scope="col">Duration</th><th scope="col">Attempts</th><th scope="col">Input and output</th></tr></thead>
    <tbody>${steps.map(
      (s, i) => html`<tr>
        <th scope="row">${s.name}</th><td>${time(s.enteredAt)}</td><td>${duration(s.durationMs)}${s.exitedAt ? '' : ' (running)'}</td><td>${s.attempts || ''}</td>
        <td>
          ${s.input ? html`<details><summary>Input<span class="sr"> of ${s.name} (step ${i + 1})</span></summary><pre>${s.input}</pre></details>` : null}
          ${s.output ? html`<details><summary>Output<span class="sr"> of ${s.name} (step ${i + 1})</span></summary><pre>${s.output}</pre></details>` : null}
          ${s.error ? html`<pre class="error">${s.error}</pre>` : null}
        </td></tr>`,
    )}</tbody></table>`;
}

function ExecutionView({ name }: { name: string }) {
  const { data: d, error } = usePolled<ExecutionDetail>(`/executions/${encodeURIComponent(name)}`, true);
  if (error && !d) return html`<p role="alert">Error: ${error}</p>`;
  if (!d) return html`<p role="status">Loading…</p>`;
  const x = d.execution;
  return html`<article aria-labelledby="h-exec">
    <p><a href="#/">← All remediations</a></p>
    <h1 id="h-exec">${x.name}</h1>
    <dl class="facts summary">
      <dt>Status</dt><dd>${badge(x.status)}</dd><dt>Outcome</dt><dd>${badge(x.outcome)}</dd>
      <dt>Resource</dt><dd>${x.resourceType} ${x.resourceId}</dd><dt>Rule</dt><dd>${x.rule ?? '—'}</dd>
      <dt>Account / region</dt><dd>${x.account} ${x.region}</dd>
      <dt>Started</dt><dd>${time(x.startDate)}</dd><dt>Stopped</dt><dd>${time(x.stopDate) || '—'}</dd>
      <dt>Cost</dt><dd>${usd(d.cost.usd.total)}</dd>
    </dl>
    ${d.error ? html`<pre class="error">${d.error}</pre>` : null}
    <section aria-labelledby="h-graph"><h2 id="h-graph">State graph</h2>
      <${StateGraph} def=${d.graph} path=${d.path} running=${x.status === 'RUNNING'} /></section>
    <section aria-labelledby="h-approval"><h2 id="h-approval">Approval</h2>
      ${d.approval ? html`<${ApprovalView} a=${d.approval} />` : html`<p>No approval was asked for (or none has been decided yet).</p>`}</section>
    <section aria-labelledby="h-runbook"><h2 id="h-runbook">Runbook</h2>
      ${d.automation ? html`<${AutomationView} a=${d.automation} />` : html`<p>No runbook ran.</p>`}</section>
    <section aria-labelledby="h-cost"><h2 id="h-cost">Cost</h2><${CostView} cost=${d.cost} recorded=${d.recordedCost} /></section>
    <section aria-labelledby="h-history"><h2 id="h-history">History</h2><${HistoryTable} steps=${d.steps} /></section>
  </article>`;
}

function FleetTables({ f }: { f: FleetView }) {
  const outcomes = [...new Set(f.days.flatMap((d) => Object.keys(d.outcomes)))].sort();
  const total = f.days.reduce((sum, d) => sum + d.costUsd, 0);
  return html`<section aria-labelledby="h-days"><h2 id="h-days">Outcomes and cost per day</h2>
      <p class="period">${f.period.from} to ${f.period.to} (UTC)${f.period.truncated ? ' — only the newest outcomes were read' : ''}</p>
      <table class="days"><caption class="sr">Outcomes per day, and the cost stored on them</caption>
      <thead><tr><th scope="col">Day</th>${outcomes.map((o) => html`<th scope="col">${o}</th>`)}<th scope="col">Priced</th><th scope="col">Cost</th></tr></thead>
      <tbody>${f.days.map((d) => html`<tr><th scope="row">${d.day}</th>${outcomes.map((o) => html`<td>${d.outcomes[o] ?? 0}</td>`)}<td>${d.costed}</td><td>${usd(d.costUsd)}</td></tr>`)}</tbody>
      <tfoot><tr><th scope="row">Period</th>${outcomes.map((o) => html`<td>${f.days.reduce((n, d) => n + (d.outcomes[o] ?? 0), 0)}</td>`)}<td>${f.days.reduce((n, d) => n + d.costed, 0)}</td><td>${usd(total)}</td></tr></tfoot></table></section>
    <section aria-labelledby="h-slots"><h2 id="h-slots">Slots</h2>
      <dl class="facts"><dt>In use</dt><dd>${f.slots.inUse}</dd><dt>Queue depth</dt><dd>${f.slots.queueDepth}</dd>
      <dt>By scope</dt><dd>${
        Object.entries(f.slots.byScope)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || '—'
      }</dd></dl></section>
    <section aria-labelledby="h-flap"><h2 id="h-flap">Resources that flap most</h2>
      ${f.flapping.length ? html`<ol>${f.flapping.map((x) => html`<li>${x.resourceKey}: ${x.remediations} remediation${x.remediations === 1 ? '' : 's'}</li>`)}</ol>` : html`<p>None.</p>`}</section>
    <section aria-labelledby="h-esc"><h2 id="h-esc">Waiting for a human</h2>
      <ul>${f.awaitingApproval.map((x) => html`<li><a href=${`#/x/${encodeURIComponent(x.name)}`}>${x.name}</a>: approval requested ${time(x.since)}</li>`)}
      ${f.escalations.map((x) => html`<li>ESCALATED ${x.resourceKey} (${time(x.recordedAt)}): ${x.reason}</li>`)}</ul>
      ${f.awaitingApproval.length + f.escalations.length === 0 ? html`<p>Nobody is waited for.</p>` : null}</section>
    <section aria-labelledby="h-notify"><h2 id="h-notify">Notification deliveries that failed</h2>
      ${
        f.failedDeliveries.length
          ? html`<table class="deliveries"><caption class="sr">Slack and webhook deliveries that gave up, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Channel</th><th scope="col">Outcome</th><th scope="col">Resource</th><th scope="col">Execution</th><th scope="col">Error</th></tr></thead>
      <tbody>${f.failedDeliveries.map((d) => html`<tr><td>${time(d.failedAt)}</td><td>${d.channel}</td><td>${d.outcome}</td><td>${d.subject}</td><td><a href=${`#/x/${encodeURIComponent(d.executionName)}`}>${d.executionName}</a></td><td>${d.error}</td></tr>`)}</tbody></table>`
          : html`<p>None failed.</p>`
      }</section>`;
}

function FleetPage() {
  const { data, error } = usePolled<FleetView>('/fleet', true);
  return html`<div><h1>Fleet</h1>
    ${error ? html`<p role="alert">Error: ${error}</p>` : null}
    ${data ? html`<${FleetTables} f=${data} />` : html`<p role="status">Loading…</p>`}</div>`;
}

function App() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const exec = /^#\/x\/(.+)$/.exec(hash)?.[1];
  const view = exec
    ? html`<${ExecutionView} name=${decodeURIComponent(exec)} />`
    : hash === '#/fleet'
      ? html`<${FleetPage} />`
      : html`<${ExecutionsView} />`;
  return html`<header><nav aria-label="Console"><a href="#/" aria-current=${!exec && hash !== '#/fleet' ? 'page' : undefined}>Remediations</a>
      <a href="#/fleet" aria-current=${hash === '#/fleet' ? 'page' : undefined}>Fleet</a></nav></header>
    <main>${view}</main>`;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
