// The export form: destination (connection and list), data matching, segments, sync mode and
// schedule. Saving creates (POST) or changes (PATCH) the export and never runs it; the API checks
// everything and its errors appear next to the fields they name.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { html } from './html.js';
import { Banner, Field, FieldError, When, browserTimeZone, described, formErrors, useAction, useLoad } from './ui.js';

/** The list picker's choice for "type a list id". */
const TYPED = '__typed__';
const FIELDS = [
  'name', 'connectionId', 'listId', 'mapping', 'mapping.email', 'mapping.firstName', 'mapping.lastName', 'mapping.customFields',
  'segmentIds', 'syncMode', 'maxRemovalPercent', 'schedule', 'schedule.cron', 'schedule.timezone',
];
const TIME_ZONES = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];

function initialForm(exp) {
  const schedule = exp?.schedule ?? { mode: 'with-refresh' };
  return {
    name: exp?.name ?? '',
    connectionId: exp?.connectionId ?? '',
    listId: exp?.listId ?? '',
    listTyped: false,
    email: exp?.mapping.email ?? '',
    firstName: exp?.mapping.firstName ?? '',
    lastName: exp?.mapping.lastName ?? '',
    customFields: Object.entries(exp?.mapping.customFields ?? {}).map(([field, attribute]) => ({ field, attribute })),
    segmentIds: exp?.segmentIds ?? [],
    syncMode: exp?.syncMode ?? 'upsert',
    maxRemovalPercent: String(exp?.maxRemovalPercent ?? 20),
    scheduleMode: schedule.mode,
    cron: schedule.cron ?? '0 6 * * *',
    timezone: schedule.timezone ?? browserTimeZone,
  };
}

/** What the form sends; empty optional fields are left out, the required ones go as typed. */
function requestBody(form, admin) {
  const optional = (value) => (value.trim() ? value.trim() : undefined);
  const customFields = form.customFields.filter((r) => r.field || r.attribute.trim());
  const body = {
    name: form.name,
    listId: form.listId.trim(),
    mapping: {
      email: form.email.trim(),
      firstName: optional(form.firstName),
      lastName: optional(form.lastName),
      customFields: customFields.length ? Object.fromEntries(customFields.map((r) => [r.field, r.attribute.trim()])) : undefined,
    },
    segmentIds: form.segmentIds,
    schedule: form.scheduleMode === 'custom' ? { mode: 'custom', cron: form.cron, timezone: form.timezone } : { mode: form.scheduleMode },
    // A detached export keeps no connection until one is chosen.
    connectionId: form.connectionId || undefined,
  };
  if (admin) {
    body.syncMode = form.syncMode;
    if (form.maxRemovalPercent.trim() !== '') body.maxRemovalPercent = Number(form.maxRemovalPercent);
  }
  return JSON.parse(JSON.stringify(body));
}

export function ExportForm({ initial, connections, segments, attributes, admin, onSaved }) {
  const [form, setForm] = useState(() => initialForm(initial));
  const action = useAction();
  const update = (changes) => setForm((f) => ({ ...f, ...changes }));
  const input = (field) => (e) => update({ [field]: e.target.value });
  const destination = useLoad(async () => {
    if (!form.connectionId) return null;
    const [lists, fields] = await Promise.all([
      api('GET', `/v1/connections/${form.connectionId}/lists`),
      api('GET', `/v1/connections/${form.connectionId}/custom-fields`),
    ]);
    return { lists: lists.items, fields: fields.items };
  }, [form.connectionId]);

  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const body = requestBody(form, admin);
      onSaved(initial ? await api('PATCH', `/v1/exports/${initial.id}`, body) : await api('POST', '/v1/exports', body));
    });
  };
  const errors = formErrors(action.error, [...FIELDS, ...form.customFields.map((r) => `mapping.customFields.${r.field}`)]);
  const err = errors.byField;

  return html`<form class="card" onSubmit=${submit} novalidate aria-label="Export settings">
    <${Banner} message=${errors.banner} />
    <${Field} id="export-name" label="Name" error=${err.name}>
      <input type="text" value=${form.name} onInput=${input('name')} ...${described('export-name', err.name)} />
    </${Field}>

    <fieldset>
      <legend>Destination</legend>
      <${Field} id="export-connection" label="Connection" error=${err.connectionId} hint=${destination.error && `Its lists cannot be read: ${destination.error.message}`}>
        <select value=${form.connectionId} onChange=${(e) => update({ connectionId: e.target.value, listTyped: false })} ...${described('export-connection', err.connectionId, destination.error)}>
          <option value="">— choose a connection —</option>
          ${connections.map((c) => html`<option value=${c.id}>${c.displayName}${c.status && c.status !== 'connected' ? ` (${c.status.replace(/-/g, ' ')})` : ''}</option>`)}
        </select>
      </${Field}>
      <${ListPicker} form=${form} update=${update} lists=${destination.data?.lists} loading=${destination.loading && form.connectionId} error=${err.listId} />
    </fieldset>

    <${DataMatching} form=${form} update=${update} attributes=${attributes} fields=${destination.data?.fields} err=${err} />

    <fieldset aria-describedby=${err.segmentIds ? 'export-segments-error' : undefined}>
      <legend>Segments</legend>
      ${segments.length === 0 && html`<p class="muted">No segments yet: create one under Segments.</p>`}
      ${segments.map(
        (s) => html`<label class="choice" key=${s.id}>
          <input
            type="checkbox"
            checked=${form.segmentIds.includes(s.id)}
            onChange=${(e) => update({ segmentIds: e.target.checked ? [...form.segmentIds, s.id] : form.segmentIds.filter((x) => x !== s.id) })}
          />
          ${s.name} <span class="muted">(${s.memberCount === null ? 'not refreshed' : `${s.memberCount.toLocaleString()} members`})</span>
        </label>`,
      )}
      <${FieldError} id="export-segments" error=${err.segmentIds} />
    </fieldset>

    <${SyncMode} form=${form} update=${update} admin=${admin} err=${err} />
    <${ScheduleFields} form=${form} update=${update} err=${err} initial=${initial} />

    <div class="actions">
      <button type="submit" class="primary" disabled=${action.busy}>${initial ? 'Save changes' : 'Save export'}</button>
    </div>
    <p class="hint">Saving checks the connection, the list, the custom fields and the segments; it never starts a run.</p>
  </form>`;
}

function ListPicker({ form, update, lists, loading, error }) {
  if (loading) {
    return html`<${Field} id="export-list" label="List"><select disabled id="export-list"><option>Loading the account's lists…</option></select></${Field}>`;
  }
  const typed = !lists || form.listTyped || (form.listId !== '' && !lists.some((l) => l.listId === form.listId));
  return html`
    ${lists &&
    html`<${Field} id="export-list" label="List" error=${typed ? undefined : error}>
      <select
        value=${typed ? TYPED : form.listId}
        onChange=${(e) => update(e.target.value === TYPED ? { listTyped: true, listId: '' } : { listTyped: false, listId: e.target.value })}
        ...${described('export-list', typed ? undefined : error)}
      >
        <option value="">— choose a list —</option>
        ${lists.map((l) => html`<option value=${l.listId}>${l.name} (${l.memberCount.toLocaleString()} members)</option>`)}
        <option value=${TYPED}>Another list: type its id…</option>
      </select>
    </${Field}>`}
    ${typed &&
    html`<${Field} id="export-list-id" label="List id" error=${error} hint="The Constant Contact list's id, a UUID.">
      <input type="text" value=${form.listId} onInput=${(e) => update({ listId: e.target.value })} ...${described('export-list-id', error, true)} />
    </${Field}>`}
  `;
}

function DataMatching({ form, update, attributes, fields, err }) {
  const attributeInput = (id, key, label, hint) => html`<${Field} id=${id} label=${label} error=${err[`mapping.${key}`]} hint=${hint}>
    <input type="text" list="profile-attributes" value=${form[key]} onInput=${(e) => update({ [key]: e.target.value })} ...${described(id, err[`mapping.${key}`], hint)} />
  </${Field}>`;
  const setRow = (i, changes) => update({ customFields: form.customFields.map((r, j) => (j === i ? { ...r, ...changes } : r)) });
  return html`<fieldset>
    <legend>Data matching</legend>
    <p class="hint">Which profile attribute fills each Constant Contact field.</p>
    <datalist id="profile-attributes">
      ${attributes.map((a) => html`<option value=${a.name}>${a.profiles.toLocaleString()} profiles, ${a.types.join(' or ')}</option>`)}
    </datalist>
    ${attributeInput('export-email', 'email', 'Email (required)', 'The attribute holding the email address.')}
    ${attributeInput('export-first-name', 'firstName', 'First name (optional)')}
    ${attributeInput('export-last-name', 'lastName', 'Last name (optional)')}
    <h3 class="subhead">Custom fields</h3>
    ${form.customFields.map(
      (row, i) => html`<div class="row" key=${i}>
        <${Field} id=${`export-cf-${i}`} label="Constant Contact custom field" error=${err[`mapping.customFields.${row.field}`]}>
          ${fields
            ? html`<select value=${row.field} onChange=${(e) => setRow(i, { field: e.target.value })} ...${described(`export-cf-${i}`, err[`mapping.customFields.${row.field}`])}>
                <option value="">— choose a field —</option>
                ${fields.map((f) => html`<option value=${f.name}>${f.label} (${f.type})</option>`)}
              </select>`
            : html`<input type="text" value=${row.field} onInput=${(e) => setRow(i, { field: e.target.value })} ...${described(`export-cf-${i}`)} />`}
        </${Field}>
        <${Field} id=${`export-cf-attr-${i}`} label="Profile attribute">
          <input type="text" list="profile-attributes" value=${row.attribute} onInput=${(e) => setRow(i, { attribute: e.target.value })} id=${`export-cf-attr-${i}`} />
        </${Field}>
        <button type="button" class="link" onClick=${() => update({ customFields: form.customFields.filter((_, j) => j !== i) })}>Remove<span class="sr-only"> custom field ${i + 1}</span></button>
      </div>`,
    )}
    <button type="button" onClick=${() => update({ customFields: [...form.customFields, { field: '', attribute: '' }] })}>Add a custom field</button>
    <${FieldError} id="export-custom-fields" error=${err['mapping.customFields'] ?? err.mapping} />
  </fieldset>`;
}

function SyncMode({ form, update, admin, err }) {
  if (!admin) return html`<p><strong>Sync mode:</strong> ${form.syncMode}</p>`;
  return html`<fieldset>
    <legend>Sync mode</legend>
    <label class="choice"><input type="radio" name="syncMode" value="upsert" checked=${form.syncMode === 'upsert'} onChange=${() => update({ syncMode: 'upsert' })} /> Upsert: add or update contacts on the list</label>
    <label class="choice"><input type="radio" name="syncMode" value="mirror" checked=${form.syncMode === 'mirror'} onChange=${() => update({ syncMode: 'mirror' })} /> Mirror: also remove from the list the contacts no longer in the segments</label>
    <${FieldError} id="export-sync-mode" error=${err.syncMode} />
    ${form.syncMode === 'mirror' &&
    html`<${Field} id="export-guard" label="Removal guard (% of the list)" error=${err.maxRemovalPercent} hint="A run that would remove more than this share of the list waits for an admin's approval.">
      <input type="number" min="0" max="100" value=${form.maxRemovalPercent} onInput=${(e) => update({ maxRemovalPercent: e.target.value })} ...${described('export-guard', err.maxRemovalPercent, true)} />
    </${Field}>`}
  </fieldset>`;
}

function ScheduleFields({ form, update, err, initial }) {
  const modes = [
    ['with-refresh', 'With every refresh (the refresh schedule under Settings)'],
    ['custom', 'On its own schedule (cron in a time zone)'],
    ['off', 'Off: on demand only'],
  ];
  return html`<fieldset>
    <legend>Schedule</legend>
    ${modes.map(
      ([mode, label]) => html`<label class="choice" key=${mode}>
        <input type="radio" name="scheduleMode" value=${mode} checked=${form.scheduleMode === mode} onChange=${() => update({ scheduleMode: mode })} /> ${label}
      </label>`,
    )}
    <${FieldError} id="export-schedule" error=${err.schedule} />
    ${form.scheduleMode === 'custom' &&
    html`<div class="row">
      <${Field} id="export-cron" label="Cron (minute hour day month weekday)" error=${err['schedule.cron']}>
        <input type="text" value=${form.cron} onInput=${(e) => update({ cron: e.target.value })} ...${described('export-cron', err['schedule.cron'])} />
      </${Field}>
      <${Field} id="export-timezone" label="Time zone" error=${err['schedule.timezone']}>
        <input type="text" list="time-zones" value=${form.timezone} onInput=${(e) => update({ timezone: e.target.value })} ...${described('export-timezone', err['schedule.timezone'])} />
      </${Field}>
      <datalist id="time-zones">${TIME_ZONES.map((z) => html`<option value=${z} />`)}</datalist>
    </div>`}
    <${NextRuns} exportId=${initial?.id} mode=${form.scheduleMode} savedMode=${initial?.schedule.mode} />
  </fieldset>`;
}

/** The next run times: the saved export's schedule, or the refresh schedule it would follow. */
function NextRuns({ exportId, mode, savedMode }) {
  const state = useLoad(async () => {
    if (exportId && mode === savedMode) return api('GET', `/v1/exports/${exportId}/schedule`);
    if (mode === 'with-refresh') return api('GET', '/v1/refresh-schedule');
    return null;
  }, [exportId, mode, savedMode]);
  if (mode === 'off') return html`<p class="hint">It runs only when someone starts it.</p>`;
  if (!state.data) return html`<p class="hint">${state.error ? state.error.message : mode === 'custom' ? 'The next run times show once saved.' : ''}</p>`;
  const times = state.data.nextRunTimes ?? [];
  if (!times.length) return html`<p class="hint">No run is scheduled${mode === 'with-refresh' ? ': the refresh schedule is not set (Settings).' : '.'}</p>`;
  return html`<div class="next-runs">
    <p class="hint" id="next-runs">Next runs:</p>
    <ul aria-labelledby="next-runs">${times.map((t) => html`<li key=${t}><${When} iso=${t} /></li>`)}</ul>
  </div>`;
}
