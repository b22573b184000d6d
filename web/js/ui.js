// Shared pieces of the screens: loading with polling, actions, form fields with the API's errors
// next to them, dates in the browser's time zone, badges and the progress bar.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';

export const browserTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time of the API (ISO 8601 UTC) in the browser's time zone. */
export function When({ iso }) {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime=${iso} title=${`${iso} UTC`}>${dateTime.format(new Date(iso))}</time>`;
}

/** Opens a screen of the console (`#/runs/run_…`). */
export const navigate = (hash) => {
  location.hash = hash;
};

export const number = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');

/**
 * Loads data for a screen. `pollMs(data)` may return a delay: the next load starts that long after
 * this one answered (never two at once). A failed reload keeps the data shown.
 */
export function useLoad(load, deps, { pollMs } = {}) {
  const [state, setState] = useState({ loading: true, data: undefined, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (!live) return;
        setState({ loading: false, data, error: null });
        const delay = pollMs?.(data);
        if (delay) timer = setTimeout(() => setTick((t) => t + 1), delay);
      },
      (error) => live && setState((s) => ({ loading: false, data: s.data, error })),
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** A button's action: busy while it runs, its error kept for display. */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null });
  const mounted = useRef(true);
  useEffect(() => () => (mounted.current = false), []);
  const run = async (fn) => {
    setState({ busy: true, error: null });
    try {
      const result = await fn();
      if (mounted.current) setState({ busy: false, error: null });
      return result;
    } catch (error) {
      if (mounted.current) setState({ busy: false, error });
      return undefined;
    }
  };
  return { ...state, run, clear: () => setState({ busy: false, error: null }) };
}

/**
 * The API's error details by form field: each detail goes to the field whose name is the longest
 * prefix of its path (`body.mapping.email` → `mapping.email`); the others stay for the banner.
 */
export function formErrors(error, fields) {
  const byField = {};
  const rest = [];
  if (!error) return { byField, banner: null };
  for (const detail of error.details ?? []) {
    if (!detail?.message) continue;
    const path = Array.isArray(detail.path) ? detail.path.filter((p, i) => i > 0 || p !== 'body').join('.') : '';
    const field = fields.filter((f) => path === f || path.startsWith(`${f}.`)).sort((a, b) => b.length - a.length)[0];
    // A detail deeper than its field says where (`all.2.value: …` under a rule in JSON).
    if (field) (byField[field] ??= []).push(path === field ? detail.message : `${path.slice(field.length + 1)}: ${detail.message}`);
    else rest.push(path ? `${path}: ${detail.message}` : detail.message);
  }
  const banner = Object.keys(byField).length
    ? ['Not saved: correct the fields marked below.', ...rest].join(' ')
    : error.message;
  return { byField: Object.fromEntries(Object.entries(byField).map(([k, v]) => [k, v.join('; ')])), banner };
}

/** Attributes tying a control to its hint and error text. */
export const described = (id, error, hint) => ({
  id,
  'aria-invalid': error ? 'true' : undefined,
  'aria-describedby': [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined,
});

export function Field({ id, label, error, hint, children }) {
  return html`<div class=${`field${error ? ' invalid' : ''}`}>
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    <${FieldError} id=${id} error=${error} />
  </div>`;
}

export function FieldError({ id, error }) {
  return error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : null;
}

export function Banner({ error, message }) {
  const text = message ?? error?.message;
  if (!text) return null;
  return html`<div class="banner banner-error" role="alert">${text}</div>`;
}

export function Notice({ children }) {
  return html`<div class="banner banner-ok" role="status">${children}</div>`;
}

export function Badge({ value }) {
  return value ? html`<span class=${`badge badge-${value}`}>${value.replace(/-/g, ' ')}</span>` : null;
}

export function ProgressBar({ id, percent, label }) {
  const value = Math.max(0, Math.min(100, Math.round(percent ?? 0)));
  return html`<div class="progress">
    <progress id=${id} max="100" value=${value} aria-label=${label}>${value}%</progress>
    <span class="progress-text">${value}%</span>
  </div>`;
}

/** A page with its heading, focused when the screen opens (keyboard and screen reader users land there). */
export function Page({ title, actions, children }) {
  const heading = useRef(null);
  useEffect(() => heading.current?.focus(), [title]);
  return html`<section class="page">
    <div class="page-head">
      <h1 tabindex="-1" ref=${heading}>${title}</h1>
      ${actions && html`<div class="actions">${actions}</div>`}
    </div>
    ${children}
  </section>`;
}

/** An inline confirmation (no modal dialog): the question and two buttons. */
export function Confirm({ message, confirmLabel, onConfirm, onCancel, busy, danger = true }) {
  return html`<div class="confirm" role="group" aria-label="Confirm">
    <p>${message}</p>
    <div class="actions">
      <button type="button" class=${danger ? 'danger' : 'primary'} disabled=${busy} onClick=${onConfirm}>${confirmLabel}</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
    </div>
  </div>`;
}

export function Loading({ state, children }) {
  if (state.data === undefined && state.error) return html`<${Banner} error=${state.error} />`;
  if (state.data === undefined) return html`<p class="muted" role="status">Loading…</p>`;
  return html`${state.error && html`<${Banner} error=${state.error} />`}${children(state.data)}`;
}

/**
 * Tabs (the WAI-ARIA tabs pattern): the arrow keys, Home and End move between the tabs; only the
 * chosen tab's panel is rendered. `tabs` is [{ key, label, render }].
 */
export function Tabs({ id, label, tabs }) {
  const [chosen, setChosen] = useState(tabs[0].key);
  const buttons = useRef({});
  const current = tabs.find((t) => t.key === chosen) ?? tabs[0];
  const tabId = (t) => `${id}-tab-${t.key}`;
  const onKeyDown = (e) => {
    const i = tabs.indexOf(current);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    setChosen(tab.key);
    buttons.current[tab.key]?.focus();
  };
  return html`<div class="tabs">
    <div role="tablist" aria-label=${label} onKeyDown=${onKeyDown}>
      ${tabs.map(
        (t) => html`<button type="button" role="tab" key=${t.key} id=${tabId(t)} aria-controls=${`${id}-panel`} aria-selected=${t === current ? 'true' : 'false'}
          tabindex=${t === current ? 0 : -1} ref=${(el) => (buttons.current[t.key] = el)} onClick=${() => setChosen(t.key)}>${t.label}</button>`,
      )}
    </div>
    <div role="tabpanel" id=${`${id}-panel`} aria-labelledby=${tabId(current)} tabindex="0">${current.render()}</div>
  </div>`;
}
