// Segments: the list with member counts and rules; admins create, edit, refresh and delete them.
import { useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { html } from './html.js';
import { RuleEditor, ruleText, ruleFields, editorFromRule, ruleFromEditor } from './rule-editor.js';
import { Banner, Confirm, Field, Loading, Notice, Page, When, described, formErrors, navigate, number, useAction, useLoad } from './ui.js';

export function SegmentsScreen({ caps }) {
  const state = useLoad(() => listAll('/v1/segments'), []);
  const admin = caps.can('patch', '/v1/segments/{id}');
  return html`<${Page} title="Segments" actions=${caps.can('post', '/v1/segments') && html`<a class="button primary" href="#/segments/new">New segment</a>`}>
    <${Loading} state=${state}>
      ${(segments) =>
        segments.length === 0
          ? html`<p class="muted">No segments yet.</p>`
          : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th><th scope="col">Members</th><th scope="col">Refreshed</th><th scope="col">Rule</th>
                    ${admin && html`<th scope="col"><span class="sr-only">Actions</span></th>`}
                  </tr>
                </thead>
                <tbody>
                  ${segments.map((s) => html`<${SegmentRow} key=${s.id} segment=${s} caps=${caps} admin=${admin} onChanged=${state.reload} />`)}
                </tbody>
              </table>
            </div>`}
    </${Loading}>
  </${Page}>`;
}

function SegmentRow({ segment: s, caps, admin, onChanged }) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const refresh = () => action.run(async () => (await api('POST', `/v1/segments/${s.id}/refresh`), onChanged()));
  const remove = () => action.run(async () => (await api('DELETE', `/v1/segments/${s.id}`), onChanged()));
  return html`<tr>
    <th scope="row">${admin ? html`<a href=${`#/segments/${s.id}`}>${s.name}</a>` : s.name}</th>
    <td>${s.memberCount === null ? html`<span class="muted">not refreshed</span>` : number(s.memberCount)}</td>
    <td><${When} iso=${s.refreshedAt} /></td>
    <td><code class="rule">${ruleText(s.rule)}</code></td>
    ${admin &&
    html`<td class="row-actions">
      ${caps.can('post', '/v1/segments/{id}/refresh') && html`<button type="button" disabled=${action.busy} onClick=${refresh}>Refresh<span class="sr-only"> ${s.name}</span></button>`}
      ${caps.can('delete', '/v1/segments/{id}') && html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Delete<span class="sr-only"> ${s.name}</span></button>`}
      ${confirming && html`<${Confirm} message=${`Delete the segment “${s.name}”?`} confirmLabel="Delete segment" busy=${action.busy} onConfirm=${remove} onCancel=${() => setConfirming(false)} />`}
      <${Banner} error=${action.error} />
    </td>`}
  </tr>`;
}

export function SegmentScreen({ id, caps, query }) {
  const state = useLoad(async () => {
    const [segment, attributes] = await Promise.all([id ? api('GET', `/v1/segments/${id}`) : null, api('GET', '/v1/profile-attributes').then((r) => r.items)]);
    return { segment, attributes };
  }, [id]);
  return html`<${Page} title=${id ? (state.data?.segment?.name ?? 'Segment') : 'New segment'}>
    <${Loading} state=${state}>
      ${({ segment, attributes }) => html`
        ${query.has('saved') && html`<${Notice}>Saved. Refresh it to count its members with the new rule.</${Notice}>`}
        <${SegmentForm} key=${segment?.updatedAt ?? 'new'} segment=${segment} attributes=${attributes} caps=${caps} onSaved=${state.reload} />
      `}
    </${Loading}>
  </${Page}>`;
}

function SegmentForm({ segment, attributes, caps, onSaved }) {
  const [name, setName] = useState(segment?.name ?? '');
  const [editor, setEditor] = useState(() => editorFromRule(segment?.rule ?? { all: [] }));
  const save = useAction();
  const refresh = useAction();
  const [refreshed, setRefreshed] = useState(null);
  const submit = (e) => {
    e.preventDefault();
    save.run(async () => {
      const body = { name, rule: ruleFromEditor(editor) };
      const saved = segment ? await api('PATCH', `/v1/segments/${segment.id}`, body) : await api('POST', '/v1/segments', body);
      navigate(`#/segments/${saved.id}?saved`);
      if (segment) onSaved();
    });
  };
  const doRefresh = () => refresh.run(async () => setRefreshed(await api('POST', `/v1/segments/${segment.id}/refresh`)));
  const errors = formErrors(save.error, ['name', ...ruleFields(editor)]);
  return html`<form class="card" onSubmit=${submit} novalidate aria-label="Segment">
    <${Banner} message=${errors.banner} />
    <${Field} id="segment-name" label="Name" error=${errors.byField.name}>
      <input type="text" value=${name} onInput=${(e) => setName(e.target.value)} ...${described('segment-name', errors.byField.name)} />
    </${Field}>
    <${RuleEditor} editor=${editor} onChange=${setEditor} attributes=${attributes} errors=${errors.byField} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${save.busy}>${segment ? 'Save changes' : 'Save segment'}</button>
      ${segment && caps.can('post', '/v1/segments/{id}/refresh') && html`<button type="button" disabled=${refresh.busy} onClick=${doRefresh}>Refresh now</button>`}
      <a href="#/segments">Back to segments</a>
    </div>
    ${segment && html`<p class="hint">Members at the last refresh: ${(refreshed ?? segment).memberCount === null ? 'not refreshed yet' : number((refreshed ?? segment).memberCount)}</p>`}
    <${Banner} error=${refresh.error} />
  </form>`;
}
