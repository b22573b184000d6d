// Profiles: import a file (NDJSON or CSV) with upload progress, and the attributes in use.
import { useState } from 'preact/hooks';
import { api, upload } from './api.js';
import { html } from './html.js';
import { Banner, Field, Loading, Notice, Page, ProgressBar, described, number, useAction, useLoad } from './ui.js';

const contentTypeOf = (file) => (/\.csv$/i.test(file.name) || file.type === 'text/csv' ? 'text/csv' : 'application/x-ndjson');

export function ProfilesScreen() {
  const attributes = useLoad(() => api('GET', '/v1/profile-attributes').then((r) => r.items), []);
  return html`<${Page} title="Profiles">
    <${ImportForm} onImported=${attributes.reload} />
    <h2>Attributes in use</h2>
    <${Loading} state=${attributes}>
      ${(items) =>
        items.length === 0
          ? html`<p class="muted">No profiles yet.</p>`
          : html`<div class="table-wrap">
              <table>
                <thead><tr><th scope="col">Attribute</th><th scope="col">Profiles</th><th scope="col">Types</th></tr></thead>
                <tbody>${items.map((a) => html`<tr key=${a.name}><th scope="row">${a.name}</th><td>${number(a.profiles)}</td><td>${a.types.join(', ')}</td></tr>`)}</tbody>
              </table>
            </div>`}
    </${Loading}>
  </${Page}>`;
}

function ImportForm({ onImported }) {
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [result, setResult] = useState(null);
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    setResult(null);
    action.run(async () => {
      if (!file) throw Object.assign(new Error('Choose a file first.'), { details: [{ path: ['file'], message: 'choose an NDJSON or CSV file' }] });
      setProgress(0);
      const answer = await upload('/v1/profiles/import', file, contentTypeOf(file), setProgress);
      setProgress(1);
      setResult(answer);
      onImported();
    });
  };
  const fileError = action.error?.details?.find((d) => d.path?.[0] === 'file')?.message;
  return html`<form class="card" onSubmit=${submit} novalidate aria-labelledby="import-title">
    <h2 id="import-title">Import profiles</h2>
    <${Field} id="import-file" label="Profiles file (NDJSON or CSV)" error=${fileError} hint="Each record has an id; its other fields become attributes. A record replaces the stored profile with the same id.">
      <input type="file" accept=".ndjson,.jsonl,.json,.csv,application/x-ndjson,text/csv" onChange=${(e) => setFile(e.target.files[0] ?? null)} ...${described('import-file', fileError, true)} />
    </${Field}>
    <div class="actions"><button type="submit" class="primary" disabled=${action.busy}>Import</button></div>
    ${progress !== null && html`<${ProgressBar} id="import-progress" percent=${progress * 100} label="Upload progress" />`}
    ${action.busy && progress === 1 && html`<p class="muted" role="status">Importing…</p>`}
    ${action.error && !fileError && html`<${Banner} error=${action.error} />`}
    ${result && html`<${ImportResult} result=${result} />`}
  </form>`;
}

function ImportResult({ result }) {
  return html`<${Notice}>
    Imported: ${number(result.received)} records read, ${number(result.upserted)} saved, ${number(result.rejected)} rejected.
  </${Notice}>
  ${result.errors.length > 0 &&
  html`<div class="table-wrap">
    <table>
      <caption>Rejected records (the first ${result.errors.length})</caption>
      <thead><tr><th scope="col">Line</th><th scope="col">Why</th></tr></thead>
      <tbody>${result.errors.map((e) => html`<tr key=${e.line}><td>${e.line}</td><td>${e.message}</td></tr>`)}</tbody>
    </table>
  </div>`}`;
}
