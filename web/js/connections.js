// Connections to Constant Contact accounts: list with status, add (with the consent), authorize and
// re-authorize through Constant Contact's consent screen, remove (offering to detach exports).
import { useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { html } from './html.js';
import { Badge, Banner, Confirm, Field, FieldError, Loading, Notice, Page, When, described, formErrors, useAction, useLoad } from './ui.js';

/** Set before leaving for Constant Contact; the callback page (same origin) reads it to come back. */
const OAUTH_RETURN = 'console.oauthReturn';

function authorize(connectionId, authorizeUrl) {
  sessionStorage.setItem(OAUTH_RETURN, connectionId);
  location.assign(authorizeUrl);
}

const USABLE_BY = { admins: 'Admins only', 'admins-and-contributors': 'Admins and contributors' };

export function ConnectionsScreen({ caps, query }) {
  const state = useLoad(() => listAll('/v1/connections'), []);
  const admin = caps.can('post', '/v1/connections');
  const [adding, setAdding] = useState(false);
  const returned = query.get('authorized');
  return html`<${Page}
    title="Connections"
    actions=${admin && !adding && html`<button type="button" class="primary" onClick=${() => setAdding(true)}>Add connection</button>`}
  >
    <${Loading} state=${state}>
      ${(connections) => html`
        ${returned && html`<${ReturnNotice} connection=${connections.find((c) => c.id === returned)} />`}
        ${adding && html`<${AddConnection} onCancel=${() => setAdding(false)} />`}
        ${connections.length === 0
          ? html`<p class="muted">No connections${admin ? ' yet: add one to export to a Constant Contact account.' : ' are shared with you.'}</p>`
          : html`<${ConnectionTable} connections=${connections} admin=${admin} caps=${caps} onChanged=${state.reload} />`}
      `}
    </${Loading}>
  </${Page}>`;
}

function ReturnNotice({ connection }) {
  if (!connection) return null;
  if (connection.status === 'connected') return html`<${Notice}>“${connection.displayName}” is connected to Constant Contact.</${Notice}>`;
  return html`<${Banner} message=${`“${connection.displayName}” is not connected (${connection.status?.replace(/-/g, ' ')}). Authorize it again.`} />`;
}

function ConnectionTable({ connections, admin, caps, onChanged }) {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          ${admin ? html`<th scope="col">Who may use it</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th>` : html`<th scope="col">Id</th>`}
        </tr>
      </thead>
      <tbody>
        ${connections.map((c) =>
          admin
            ? html`<${ConnectionRow} key=${c.id} connection=${c} caps=${caps} onChanged=${onChanged} />`
            : html`<tr key=${c.id}><th scope="row">${c.displayName}</th><td><code>${c.id}</code></td></tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function ConnectionRow({ connection: c, caps, onChanged }) {
  const action = useAction();
  const [confirm, setConfirm] = useState(null); // null | 'remove' | {exportIds}
  const reauthorize = () => action.run(async () => authorize(c.id, (await api('POST', `/v1/connections/${c.id}/reauthorize`, {})).authorizeUrl));
  const remove = (detachExports) =>
    action.run(async () => {
      try {
        await api('DELETE', `/v1/connections/${c.id}${detachExports ? '?detachExports=true' : ''}`);
        setConfirm(null);
        onChanged();
      } catch (err) {
        if (err.code !== 'connection_in_use') throw err;
        setConfirm({ exportIds: err.details.flatMap((d) => d.exportIds ?? []) });
      }
    });
  return html`<tr>
    <th scope="row">${c.displayName}<div class="muted small"><code>${c.id}</code></div></th>
    <td>${USABLE_BY[c.usableBy] ?? c.usableBy}</td>
    <td><${Badge} value=${c.status} /></td>
    <td><${When} iso=${c.createdAt} /></td>
    <td class="row-actions">
      ${caps.can('post', '/v1/connections/{id}/reauthorize') &&
      html`<button type="button" disabled=${action.busy} onClick=${reauthorize}>${c.status === 'pending-authorization' ? 'Authorize' : 'Re-authorize'}</button>`}
      ${caps.can('delete', '/v1/connections/{id}') && html`<button type="button" class="danger" onClick=${() => setConfirm('remove')}>Remove</button>`}
      ${confirm === 'remove' &&
      html`<${Confirm}
        message=${`Remove the connection “${c.displayName}”? Its tokens are deleted.`}
        confirmLabel="Remove connection"
        busy=${action.busy}
        onConfirm=${() => remove(false)}
        onCancel=${() => setConfirm(null)}
      />`}
      ${confirm?.exportIds &&
      html`<${Confirm}
        message=${`Exports use this connection: ${confirm.exportIds.join(', ')}. Remove it anyway and detach them? They keep their settings and do not run until they get a connection again.`}
        confirmLabel="Remove and detach exports"
        busy=${action.busy}
        onConfirm=${() => remove(true)}
        onCancel=${() => setConfirm(null)}
      />`}
      <${Banner} error=${action.error} />
    </td>
  </tr>`;
}

function AddConnection({ onCancel }) {
  const [form, setForm] = useState({ displayName: '', usableBy: 'admins', dataPrivacyConsent: false });
  const action = useAction();
  const set = (field) => (e) => setForm({ ...form, [field]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => {
      const created = await api('POST', '/v1/connections', form);
      authorize(created.id, created.authorizeUrl);
    });
  };
  const errors = formErrors(action.error, ['displayName', 'usableBy', 'dataPrivacyConsent']);
  return html`<form class="card" onSubmit=${submit} novalidate aria-labelledby="add-connection-title">
    <h2 id="add-connection-title">Add a Constant Contact connection</h2>
    <${Banner} message=${errors.banner} />
    <${Field} id="connection-name" label="Display name" error=${errors.byField.displayName}>
      <input type="text" value=${form.displayName} onInput=${set('displayName')} ...${described('connection-name', errors.byField.displayName)} />
    </${Field}>
    <fieldset aria-describedby=${errors.byField.usableBy ? 'connection-usable-error' : undefined}>
      <legend>Who may use it</legend>
      ${Object.entries(USABLE_BY).map(
        ([value, label]) => html`<label class="choice" key=${value}>
          <input type="radio" name="usableBy" value=${value} checked=${form.usableBy === value} onChange=${set('usableBy')} /> ${label}
        </label>`,
      )}
      <${FieldError} id="connection-usable" error=${errors.byField.usableBy} />
    </fieldset>
    <div class=${`field${errors.byField.dataPrivacyConsent ? ' invalid' : ''}`}>
      <label class="choice">
        <input type="checkbox" checked=${form.dataPrivacyConsent} onChange=${set('dataPrivacyConsent')} ...${described('connection-consent', errors.byField.dataPrivacyConsent)} />
        I agree to data privacy and compliance: profile data (email addresses, names, custom fields) will be sent to Constant Contact.
      </label>
      <${FieldError} id="connection-consent" error=${errors.byField.dataPrivacyConsent} />
    </div>
    <div class="actions">
      <button type="submit" class="primary" disabled=${action.busy}>Connect</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
    <p class="hint">Connect opens Constant Contact's consent screen; after you approve, you come back here.</p>
  </form>`;
}
