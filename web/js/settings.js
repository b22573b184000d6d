// Settings: the refresh schedule (refresh every segment, then run every export that runs with the
// refresh) with its next run times, and a refresh now.
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { html } from './html.js';
import { Banner, Field, FieldError, Loading, Notice, Page, When, browserTimeZone, described, formErrors, useAction, useLoad } from './ui.js';

const WEEKDAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const MAX_TIMES = 4;

export function SettingsScreen({ caps }) {
  const state = useLoad(() => api('GET', '/v1/refresh-schedule'), []);
  return html`<${Page} title="Settings">
    <${Loading} state=${state}>
      ${(schedule) => html`<${RefreshScheduleForm} key=${schedule.updatedAt ?? 'unset'} schedule=${schedule} caps=${caps} onSaved=${state.reload} />`}
    </${Loading}>
    ${caps.can('post', '/v1/refresh') && html`<${RefreshNow} />`}
  </${Page}>`;
}

function RefreshScheduleForm({ schedule, caps, onSaved }) {
  const editable = caps.can('put', '/v1/refresh-schedule');
  const [form, setForm] = useState(() => ({
    times: schedule.updatedAt ? schedule.times : ['06:00'],
    timezone: schedule.updatedAt ? schedule.timezone : browserTimeZone,
    days: schedule.days === 'daily' ? [] : schedule.days,
    daily: schedule.days === 'daily',
    enabled: schedule.updatedAt ? schedule.enabled : true,
  }));
  const action = useAction();
  const update = (changes) => setForm((f) => ({ ...f, ...changes }));
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      await api('PUT', '/v1/refresh-schedule', { times: form.times, timezone: form.timezone, days: form.daily ? 'daily' : form.days, enabled: form.enabled });
      onSaved();
    });
  };
  const errors = formErrors(action.error, ['times', ...form.times.map((_, i) => `times.${i}`), 'timezone', 'days', 'enabled']);
  const err = errors.byField;
  return html`<form class="card" onSubmit=${submit} novalidate aria-labelledby="refresh-title">
    <h2 id="refresh-title">Refresh schedule</h2>
    <p class="hint">At these times every segment is refreshed, then every export whose schedule is “with every refresh” runs.</p>
    ${!schedule.updatedAt && html`<${Notice}>The refresh schedule is not set yet: nothing refreshes by itself.</${Notice}>`}
    <${Banner} message=${errors.banner} />
    <fieldset disabled=${!editable}>
      <legend>Times of day</legend>
      ${form.times.map(
        (t, i) => html`<div class="row" key=${i}>
          <${Field} id=${`refresh-time-${i}`} label=${`Time ${i + 1}`} error=${err[`times.${i}`]}>
            <input type="time" value=${t} onInput=${(e) => update({ times: form.times.map((x, j) => (j === i ? e.target.value : x)) })} ...${described(`refresh-time-${i}`, err[`times.${i}`])} />
          </${Field}>
          ${editable && form.times.length > 1 && html`<button type="button" class="link" onClick=${() => update({ times: form.times.filter((_, j) => j !== i) })}>Remove<span class="sr-only"> time ${i + 1}</span></button>`}
        </div>`,
      )}
      ${editable && form.times.length < MAX_TIMES && html`<button type="button" onClick=${() => update({ times: [...form.times, '18:00'] })}>Add a time</button>`}
      <${FieldError} id="refresh-times" error=${err.times} />
    </fieldset>
    <fieldset disabled=${!editable}>
      <${Field} id="refresh-timezone" label="Time zone" error=${err.timezone}>
        <input type="text" list="refresh-time-zones" value=${form.timezone} onInput=${(e) => update({ timezone: e.target.value })} ...${described('refresh-timezone', err.timezone)} />
      </${Field}>
      <datalist id="refresh-time-zones">${(Intl.supportedValuesOf?.('timeZone') ?? []).map((z) => html`<option value=${z} />`)}</datalist>
    </fieldset>
    <fieldset disabled=${!editable}>
      <legend>Days</legend>
      <label class="choice"><input type="checkbox" checked=${form.daily} onChange=${(e) => update({ daily: e.target.checked })} /> Every day</label>
      ${!form.daily &&
      WEEKDAYS.map(
        ([day, label]) => html`<label class="choice" key=${day}>
          <input type="checkbox" checked=${form.days.includes(day)} onChange=${(e) => update({ days: e.target.checked ? [...form.days, day] : form.days.filter((d) => d !== day) })} /> ${label}
        </label>`,
      )}
      <${FieldError} id="refresh-days" error=${err.days} />
    </fieldset>
    <fieldset disabled=${!editable}>
      <label class="choice"><input type="checkbox" checked=${form.enabled} onChange=${(e) => update({ enabled: e.target.checked })} /> Enabled (unticked: the settings stay, nothing runs)</label>
    </fieldset>
    ${editable && html`<div class="actions"><button type="submit" class="primary" disabled=${action.busy}>Save schedule</button></div>`}
    <h3 class="subhead" id="next-refreshes">Next refreshes</h3>
    ${schedule.nextRunTimes.length
      ? html`<ul aria-labelledby="next-refreshes">${schedule.nextRunTimes.map((t) => html`<li key=${t}><${When} iso=${t} /></li>`)}</ul>`
      : html`<p class="muted">None scheduled.</p>`}
    <p><a href=${schedule.temporalUiUrl} target="_blank" rel="noopener noreferrer">The schedule in the Temporal UI</a></p>
  </form>`;
}

function RefreshNow() {
  const action = useAction();
  const [started, setStarted] = useState(null);
  return html`<div class="card">
    <h2>Refresh now</h2>
    <p class="hint">Refreshes every segment, then runs every export that runs with the refresh.</p>
    <button type="button" disabled=${action.busy} onClick=${() => action.run(async () => setStarted(await api('POST', '/v1/refresh')))}>Refresh now</button>
    ${started && html`<${Notice}>The refresh started. <a href=${started.temporalUiUrl} target="_blank" rel="noopener noreferrer">Follow it in the Temporal UI</a>.</${Notice}>`}
    <${Banner} error=${action.error} />
  </div>`;
}
