// A run's figures: its counts, a dry run's plan, and the contacts it deliberately did not send
// (admins only: the list carries emails).
import { download, readNdjson } from './api.js';
import { html } from './html.js';
import { Banner, Loading, number, useAction, useLoad } from './ui.js';

/** The counts in reading order; a `sub` row breaks down the row above it. */
const COUNT_ROWS = [
  ['segmentProfiles', 'Profiles in the segments'],
  ['sent', 'Sent to Constant Contact'],
  ['added', 'new to the list (added)', 'sub'],
  ['updated', 'changed since last sent (updated)', 'sub'],
  ['imported', 'Imported'],
  ['unsubscribed', 'Unsubscribed (not added)'],
  ['constantContactErrors', 'Constant Contact errors'],
  ['unchanged', 'Unchanged (sent before, not sent again)'],
  ['suppressed', 'Suppressed (deliberately not sent)'],
  ['suppressedByReason.left_list', 'left the list in Constant Contact', 'sub'],
  ['rejected', 'Rejected'],
  ['duplicates', 'Duplicates'],
  ['plannedRemovals', 'Planned removals'],
  ['removed', 'Removed from the list'],
];

const PLAN_ROWS = [
  ['toAdd', 'To add (new to the list)'],
  ['toUpdate', 'To update (changed since last sent)'],
  ['unchanged', 'Unchanged (not sent)'],
  ['suppressed', 'Suppressed (not sent)'],
  ['suppressedByReason.left_list', 'left the list in Constant Contact', 'sub'],
  ['rejected', 'Rejected'],
  ['duplicates', 'Duplicates'],
  ['toRemove', 'To remove from the list (mirror mode)'],
  ['needsApproval', "Removals need approval (more than the export's removal guard)"],
  ['requests.total', 'Constant Contact requests it would make'],
  ['requests.imports', 'imports', 'sub'],
  ['requests.statusReads', 'import status reads', 'sub'],
  ['requests.removals', 'removals', 'sub'],
  ['dailyQuotaLeft', 'Daily request quota left'],
];

const valueAt = (object, key) => key.split('.').reduce((o, k) => o?.[k], object);

function figure(value) {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (value === null) return 'not tracked';
  return number(value);
}

/** A two-column table of figures; each value cell carries its key in `data-<attribute>` (for tests and scripts). */
function Figures({ rows, values, attribute, caption }) {
  return html`<div class="table-wrap">
    <table class="counts">
      <caption class="sr-only">${caption}</caption>
      <tbody>
        ${rows.map(([key, label, sub]) => {
          const value = valueAt(values, key);
          if (value === undefined) return null;
          return html`<tr key=${key} class=${sub ?? ''}>
            <th scope="row">${label}</th><td ...${{ [`data-${attribute}`]: key }}>${figure(value)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

export function Counts({ counts }) {
  return html`<${Figures} rows=${COUNT_ROWS} values=${counts ?? {}} attribute="count" caption="Counts" />`;
}

/** A dry run's plan, once it ended: what a real run started now would do. */
export function DryRunPlan({ run }) {
  let body;
  if (run.plan) {
    body = html`<p class="hint">This dry run sent nothing and changed nothing. A real run started now would do this:</p>
      <${Figures} rows=${PLAN_ROWS} values=${run.plan} attribute="plan" caption="Plan" />`;
  } else if (run.status === 'running') {
    body = html`<p class="muted">The plan shows when the dry run ends.</p>`;
  } else {
    body = html`<p class="muted">This dry run ended without a plan.</p>`;
  }
  return html`<section class="card" aria-labelledby="plan-heading"><h2 id="plan-heading">Dry run plan</h2>${body}</section>`;
}

const SUPPRESSIONS_SHOWN = 100;

/** The contacts the run did not send on purpose: the first ones here, all of them as a download. */
export function Suppressions({ run }) {
  return html`<p class="hint"><strong>left_list</strong>: the contact left the list in Constant Contact, so the export does not put them back until they join it again.</p>
    <${SuppressionList} run=${run} />`;
}

function SuppressionList({ run }) {
  const state = useLoad(() => readNdjson(`/v1/runs/${run.id}/suppressions`, SUPPRESSIONS_SHOWN), [run.id, run.counts.suppressed]);
  const save = useAction();
  const downloadAll = () => save.run(() => download(`/v1/runs/${run.id}/suppressions`, `${run.id}-suppressions.ndjson`));
  return html`<${Loading} state=${state}>
    ${({ items, more }) =>
      items.length === 0
        ? html`<p class="muted">This run suppressed no one.</p>`
        : html`<div class="table-wrap">
              <table>
                <caption>${more ? `The first ${items.length} of ${number(run.counts.suppressed)}` : `${items.length} suppressed`}</caption>
                <thead><tr><th scope="col">Profile</th><th scope="col">Email</th><th scope="col">Reason</th></tr></thead>
                <tbody>
                  ${items.map((s) => html`<tr key=${s.profileId}><th scope="row"><code>${s.profileId}</code></th><td>${s.email ?? '—'}</td><td>${s.reason}</td></tr>`)}
                </tbody>
              </table>
            </div>
            <button type="button" disabled=${save.busy} onClick=${downloadAll}>Download suppressions</button>`}
  </${Loading}>
  <${Banner} error=${save.error} />`;
}
