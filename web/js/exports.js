// Exports: the list, one export's settings (the form is in export-form.js), its runs, and the run
// actions: run now, dry run, full resync.
import { useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { ExportForm } from './export-form.js';
import { html } from './html.js';
import { ExportRuns } from './runs.js';
import { Badge, Banner, Confirm, Loading, Notice, Page, When, navigate, useAction, useLoad } from './ui.js';

export function describeSchedule(schedule) {
  if (schedule?.mode === 'custom') return `cron ${schedule.cron} (${schedule.timezone})`;
  if (schedule?.mode === 'off') return 'on demand only';
  return 'with every refresh';
}

const anyRunning = (exports) => exports.some((e) => e.lastRun?.status === 'running');

export function ExportsScreen({ caps }) {
  const state = useLoad(
    async () => {
      const [exports, connections] = await Promise.all([listAll('/v1/exports'), listAll('/v1/connections')]);
      return { exports, connections: new Map(connections.map((c) => [c.id, c])) };
    },
    [],
    { pollMs: (d) => (anyRunning(d.exports) ? 2000 : null) },
  );
  return html`<${Page} title="Exports" actions=${caps.can('post', '/v1/exports') && html`<a class="button primary" href="#/exports/new">Add export</a>`}>
    <${Loading} state=${state}>
      ${({ exports, connections }) =>
        exports.length === 0
          ? html`<p class="muted">No exports yet.</p>`
          : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th><th scope="col">Connection</th><th scope="col">Sync mode</th><th scope="col">Schedule</th>
                    <th scope="col">Last run</th><th scope="col"><span class="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  ${exports.map(
                    (e) => html`<tr key=${e.id}>
                      <th scope="row"><a href=${`#/exports/${e.id}`}>${e.name}</a></th>
                      <td>${e.connectionId ? (connections.get(e.connectionId)?.displayName ?? e.connectionId) : html`<span class="muted">detached</span>`}</td>
                      <td>${e.syncMode}</td>
                      <td>${describeSchedule(e.schedule)}</td>
                      <td>${e.lastRun ? html`<a href=${`#/runs/${e.lastRun.id}`}><${Badge} value=${e.lastRun.status} /></a> <${When} iso=${e.lastRun.startedAt} />` : html`<span class="muted">never ran</span>`}</td>
                      <td class="row-actions"><${RunButtons} exp=${e} caps=${caps} compact=${true} /></td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>`}
    </${Loading}>
  </${Page}>`;
}

const RESYNC_WARNING =
  'A full resync sends every profile of the segments again, changed or not, and spends requests of the daily quota accordingly. ' +
  'Contacts who left the list in Constant Contact are still not sent: their choice wins.';

/** Run now, a dry run (plans, sends nothing) and a full resync (after a confirmation). Each opens the new run. */
export function RunButtons({ exp, caps, compact = false }) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  if (!caps.can('post', '/v1/exports/{id}/runs')) return null;
  const start = (options) =>
    action.run(async () => {
      const { run } = await api('POST', `/v1/exports/${exp.id}/runs`, options);
      navigate(`#/runs/${run.id}`);
    });
  const disabled = action.busy || !exp.connectionId;
  return html`<div class="run-buttons">
    <button type="button" class="primary" disabled=${disabled} onClick=${() => start(undefined)}>Run now</button>
    ${!compact &&
    html`<button type="button" disabled=${disabled} onClick=${() => start({ dryRun: true })}>Dry run</button>
      <button type="button" disabled=${disabled || confirming} onClick=${() => setConfirming(true)}>Full resync</button>
      ${confirming &&
      html`<${Confirm} message=${RESYNC_WARNING} confirmLabel="Start full resync" danger=${false} busy=${action.busy}
        onConfirm=${() => start({ fullResync: true })} onCancel=${() => setConfirming(false)} />`}
      <p class="hint">${exp.connectionId
        ? 'Dry run: reads the list and shows what a run would do, sending nothing. Full resync: sends everyone again, not only new and changed profiles.'
        : 'This export has no connection: choose one and save to run it.'}</p>`}
    ${action.error &&
    html`<div class="banner banner-error" role="alert">
      ${action.error.message}
      ${action.error.runId && html` <a href=${`#/runs/${action.error.runId}`}>Open the running run</a>`}
    </div>`}
  </div>`;
}

export function ExportScreen({ id, caps, session, query }) {
  const [saved, setSaved] = useState(query.has('saved'));
  const state = useLoad(async () => {
    const [exp, connections, segments, attributes] = await Promise.all([
      id ? api('GET', `/v1/exports/${id}`) : null,
      listAll('/v1/connections'),
      listAll('/v1/segments'),
      api('GET', '/v1/profile-attributes').then((r) => r.items),
    ]);
    return { exp, connections, segments, attributes };
  }, [id]);
  const title = id ? (state.data?.exp?.name ?? 'Export') : 'Add export';
  return html`<${Page} title=${title}>
    <${Loading} state=${state}>
      ${(data) => html`
        ${saved && data.exp && html`<${Notice}>Saved. Saving never runs an export: it runs ${describeSchedule(data.exp.schedule)}, or now with Run now.</${Notice}>`}
        ${data.exp && html`<${RunButtons} exp=${data.exp} caps=${caps} />`}
        <${ExportForm}
          key=${data.exp?.updatedAt ?? 'new'}
          initial=${data.exp}
          connections=${data.connections}
          segments=${data.segments}
          attributes=${data.attributes}
          admin=${session.role === 'admin'}
          onSaved=${(exp) => {
            if (!id) return navigate(`#/exports/${exp.id}?saved`);
            setSaved(true);
            state.reload();
          }}
        />
        ${data.exp &&
        html`<h2>Runs</h2>
          <${ExportRuns} exportId=${data.exp.id} />
          <${DeleteExport} exp=${data.exp} caps=${caps} />`}
      `}
    </${Loading}>
  </${Page}>`;
}

function DeleteExport({ exp, caps }) {
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  if (!caps.can('delete', '/v1/exports/{id}')) return null;
  const remove = () =>
    action.run(async () => {
      await api('DELETE', `/v1/exports/${exp.id}`);
      navigate('#/exports');
    });
  return html`<div class="danger-zone">
    ${confirming
      ? html`<${Confirm}
          message=${`Delete the export “${exp.name}” and its schedule? Its run history stays readable.`}
          confirmLabel="Delete export"
          busy=${action.busy}
          onConfirm=${remove}
          onCancel=${() => setConfirming(false)}
        />`
      : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Delete export</button>`}
    <${Banner} error=${action.error} />
  </div>`;
}
