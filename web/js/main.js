// The console's shell: sign-in, navigation and the screens behind hash routes (#/exports/exp_…).
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, loadCapabilities, useSession } from './api.js';
import { html } from './html.js';
import { Banner, browserTimeZone, Field, described, formErrors, useAction } from './ui.js';
import { ConnectionsScreen } from './connections.js';
import { ExportScreen, ExportsScreen } from './exports.js';
import { RunScreen, RunsScreen } from './runs.js';
import { SegmentScreen, SegmentsScreen } from './segments.js';
import { ProfilesScreen } from './profiles.js';
import { SettingsScreen } from './settings.js';

function readRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean), query: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const changed = () => setRoute(readRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

const SCREENS = {
  connections: () => ConnectionsScreen,
  exports: (id) => (id ? ExportScreen : ExportsScreen),
  runs: (id) => (id ? RunScreen : RunsScreen),
  segments: (id) => (id ? SegmentScreen : SegmentsScreen),
  profiles: () => ProfilesScreen,
  settings: () => SettingsScreen,
};

function Nav({ caps, section }) {
  const items = [
    ['connections', 'Connections'],
    ['exports', 'Exports'],
    ['runs', 'Runs'],
    ['segments', 'Segments'],
    ...(caps.can('post', '/v1/profiles/import') ? [['profiles', 'Profiles']] : []),
    ['settings', 'Settings'],
  ];
  return html`<nav aria-label="Main">
    <ul>
      ${items.map(
        ([key, label]) => html`<li><a href=${`#/${key}`} aria-current=${section === key ? 'page' : undefined}>${label}</a></li>`,
      )}
    </ul>
  </nav>`;
}

function SignIn({ onSignedIn }) {
  const [apiKey, setApiKey] = useState('');
  const action = useAction();
  const submit = (e) => {
    e.preventDefault();
    action.run(async () => onSignedIn(await api('POST', '/console/session', { apiKey })));
  };
  const errors = formErrors(action.error, ['apiKey']);
  return html`<main id="main" class="signin">
    <h1>Segment export console</h1>
    <form onSubmit=${submit} novalidate>
      <${Banner} message=${errors.byField.apiKey ? null : errors.banner} />
      <${Field} id="api-key" label="API key" error=${errors.byField.apiKey} hint="An admin or contributor key of this installation (npm start prints them).">
        <input type="password" autocomplete="off" value=${apiKey} onInput=${(e) => setApiKey(e.target.value)} ...${described('api-key', errors.byField.apiKey, true)} />
      </${Field}>
      <button type="submit" class="primary" disabled=${action.busy}>Sign in</button>
    </form>
  </main>`;
}

function Shell({ session, caps, onSignOut }) {
  const route = useRoute();
  const [section = 'exports', id] = route.parts;
  const screen = SCREENS[section]?.(id);
  const Screen = screen ?? (() => html`<${Banner} message="There is no such page." />`);
  return html`<a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/exports">Segment export</a>
      <${Nav} caps=${caps} section=${section} />
      <div class="who">
        <span class="role">Signed in as <strong>${session.role}</strong></span>
        <button type="button" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      <${Screen} key=${`${section}/${id ?? ''}`} id=${id === 'new' ? null : id} query=${route.query} session=${session} caps=${caps} />
    </main>
    <footer>Times are shown in your time zone, ${browserTimeZone}.</footer>`;
}

function App() {
  const [state, setState] = useState({ session: undefined, caps: null });
  const signedOut = () => {
    useSession(null, () => {});
    setState({ session: null, caps: null });
  };
  const signedIn = async (session) => {
    useSession(session, signedOut);
    setState({ session, caps: await loadCapabilities(session.role) });
  };
  useEffect(() => {
    api('GET', '/console/session').then(signedIn, signedOut);
  }, []);
  const signOut = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    signedOut();
  };
  if (state.session === undefined) return html`<p class="loading" role="status">Loading…</p>`;
  if (!state.session || !state.caps) return html`<${SignIn} onSignedIn=${signedIn} />`;
  return html`<${Shell} session=${state.session} caps=${state.caps} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
