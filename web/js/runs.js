// Runs: per export and overall (newest first), and one run as it happens: polled every second while
// it runs, with its progress bar, error, cancel, removal approval, and its counts and (admins) its
// suppressions, or a dry run's plan (a dry run sends nothing: its plan says what a run would do).
import { useState } from 'preact/hooks';
import { api, download, listAll } from './api.js';
import { html } from './html.js';
import { Counts, DryRunPlan, Suppressions } from './run-details.js';
import { Badge, Banner, Confirm, Loading, Page, ProgressBar, Tabs, When, number, useAction, useLoad } from './ui.js';

const RUN_POLL_MS = 1000;
const LIST_POLL_MS = 2000;
const running = (runs) => runs.some((r) => r.status === 'running');

function RunsTable({ runs, exportNames }) {
  if (!runs.length) return html`<p class="muted">No runs yet.</p>`;
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Started</th>${exportNames && html`<th scope="col">Export</th>`}<th scope="col">Trigger</th><th scope="col">Status</th>
          <th scope="col">Progress</th><th scope="col">Finished</th>
        </tr>
      </thead>
      <tbody>
        ${runs.map(
          (r) => html`<tr key=${r.id}>
            <th scope="row"><a href=${`#/runs/${r.id}`}><${When} iso=${r.startedAt} /></a></th>
            ${exportNames && html`<td><a href=${`#/exports/${r.exportId}`}>${exportNames.get(r.exportId) ?? r.exportId}</a></td>`}
            <td>${r.trigger} <${RunKind} run=${r} /></td>
            <td><${Badge} value=${r.status} /></td>
            <td>${r.status === 'running' ? html`<${ProgressBar} percent=${r.progress.percent} label=${`Progress of the run started ${r.startedAt}`} /> <span class="small">${r.progress.phase}</span>` : r.progress.phase}</td>
            <td><${When} iso=${r.finishedAt} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** Marks a dry run and a full resync (a run without either is a plain run). */
function RunKind({ run }) {
  return html`${run.dryRun && html`<span class="tag">dry run</span>`}${run.fullResync && html`<span class="tag">full resync</span>`}`;
}

export function ExportRuns({ exportId }) {
  const state = useLoad(() => api('GET', `/v1/exports/${exportId}/runs?limit=20`), [exportId], {
    pollMs: (page) => (running(page.items) ? LIST_POLL_MS : null),
  });
  return html`<${Loading} state=${state}>${(page) => html`<${RunsTable} runs=${page.items} />`}</${Loading}>`;
}

/** The API lists runs per export: the overall list merges the newest runs of the most recently run exports. */
const OVERALL_EXPORTS = 25;

export function RunsScreen() {
  const state = useLoad(
    async () => {
      const exports = await listAll('/v1/exports');
      const recent = exports
        .filter((e) => e.lastRun)
        .sort((a, b) => b.lastRun.startedAt.localeCompare(a.lastRun.startedAt))
        .slice(0, OVERALL_EXPORTS);
      const pages = await Promise.all(recent.map((e) => api('GET', `/v1/exports/${e.id}/runs?limit=20`)));
      const runs = pages.flatMap((p) => p.items).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
      return { runs, exportNames: new Map(exports.map((e) => [e.id, e.name])) };
    },
    [],
    { pollMs: (d) => (running(d.runs) ? LIST_POLL_MS : null) },
  );
  return html`<${Page} title="Runs">
    <p class="hint">Newest first: the latest runs of the ${OVERALL_EXPORTS} most recently run exports.</p>
    <${Loading} state=${state}>${(d) => html`<${RunsTable} runs=${d.runs} exportNames=${d.exportNames} />`}</${Loading}>
  </${Page}>`;
}

export function RunScreen({ id, caps }) {
  const state = useLoad(() => api('GET', `/v1/runs/${id}`), [id], { pollMs: (run) => (run.status === 'running' ? RUN_POLL_MS : null) });
  const exportId = state.data?.exportId;
  const exp = useLoad(async () => (exportId ? api('GET', `/v1/exports/${exportId}`).catch(() => null) : null), [exportId]);
  return html`<${Page} title="Run">
    <${Loading} state=${state}>
      ${(run) => html`
        <p class="subtitle">
          Export <a href=${`#/exports/${run.exportId}`}>${exp.data?.name ?? run.exportId}</a> · <code>${run.id}</code> · ${run.trigger} <${RunKind} run=${run} />
        </p>
        <${RunStatus} run=${run} />
        ${run.error && html`<div class="banner banner-error" role="alert"><strong>${run.error.code}</strong>: ${run.error.message}</div>`}
        <${Approval} run=${run} caps=${caps} onDecided=${state.reload} />
        <${RunActions} run=${run} caps=${caps} onChanged=${state.reload} />
        ${run.dryRun ? html`<${DryRunPlan} run=${run} />` : html`<${RunFigures} run=${run} caps=${caps} />`}
      `}
    </${Loading}>
  </${Page}>`;
}

function RunStatus({ run }) {
  const p = run.progress;
  return html`<div class="card run-status">
    <dl class="facts">
      <div><dt>Status</dt><dd id="run-status"><${Badge} value=${run.status} /></dd></div>
      <div><dt>Phase</dt><dd id="run-phase">${p.phase}</dd></div>
      <div><dt>Started</dt><dd><${When} iso=${run.startedAt} /></dd></div>
      <div><dt>Finished</dt><dd><${When} iso=${run.finishedAt} /></dd></div>
    </dl>
    <${ProgressBar} id="run-progress" percent=${p.percent} label="Run progress" />
    <p class="small">${number(p.chunksDone)} of ${number(p.chunksTotal)} chunks imported</p>
    <p class="sr-only" aria-live="polite">${run.status}, ${p.phase}, ${Math.round(p.percent ?? 0)} percent</p>
    <p><a href=${run.temporalUiUrl} target="_blank" rel="noopener noreferrer">Open in the Temporal UI</a></p>
  </div>`;
}

/** The counts, and for admins the suppressed contacts in a tab beside them. */
function RunFigures({ run, caps }) {
  const counts = html`<${Counts} counts=${run.counts} />`;
  if (!caps.can('get', '/v1/runs/{id}/suppressions')) return html`<h2>Counts</h2>${counts}`;
  const tabs = [
    { key: 'counts', label: 'Counts', render: () => counts },
    { key: 'suppressed', label: `Suppressed (${number(run.counts.suppressed)})`, render: () => html`<${Suppressions} run=${run} />` },
  ];
  return html`<${Tabs} id="run-figures" label="Run figures" tabs=${tabs} />`;
}

function Approval({ run, caps, onDecided }) {
  const action = useAction();
  if (run.status !== 'running' || run.progress.phase !== 'awaiting-approval') return null;
  const decide = (decision) =>
    action.run(async () => {
      await api('POST', `/v1/runs/${run.id}/removals`, { decision });
      onDecided();
    });
  return html`<div class="card attention" role="region" aria-label="Removals awaiting approval">
    <h2>Removals wait for approval</h2>
    <p>This mirror run would remove ${number(run.counts.plannedRemovals)} contacts from the list, more than the export's guard allows.</p>
    ${caps.can('post', '/v1/runs/{id}/removals')
      ? html`<div class="actions">
          <button type="button" class="primary" disabled=${action.busy} onClick=${() => decide('approve')}>Approve removals</button>
          <button type="button" disabled=${action.busy} onClick=${() => decide('reject')}>Reject removals (keep every member)</button>
        </div>`
      : html`<p class="hint">An admin approves or rejects them.</p>`}
    <${Banner} error=${action.error} />
  </div>`;
}

function RunActions({ run, caps, onChanged }) {
  const [confirming, setConfirming] = useState(false);
  const cancel = useAction();
  const files = useAction();
  const saveRejects = () => files.run(() => download(`/v1/runs/${run.id}/rejects`, `${run.id}-rejects.ndjson`));
  const doCancel = () =>
    cancel.run(async () => {
      await api('POST', `/v1/runs/${run.id}/cancel`, {});
      setConfirming(false);
      onChanged();
    });
  return html`<div class="actions run-actions">
    <button type="button" disabled=${files.busy} onClick=${saveRejects}>Download rejects</button>
    ${run.status === 'running' &&
    caps.can('post', '/v1/runs/{id}/cancel') &&
    (confirming
      ? html`<${Confirm} message="Cancel this run? It uploads nothing more and ends cancelled." confirmLabel="Cancel run" busy=${cancel.busy} onConfirm=${doCancel} onCancel=${() => setConfirming(false)} />`
      : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Cancel run</button>`)}
    <${Banner} error=${files.error ?? cancel.error} />
  </div>`;
}
