// Loaded by the OAuth callback page once a connection is authorized: when the console started the
// authorization in this tab, go straight back to it (the page's own link says where).
const connectionId = sessionStorage.getItem('console.oauthReturn');
const link = document.getElementById('console-link');
if (connectionId && link) {
  sessionStorage.removeItem('console.oauthReturn');
  const target = new URL(link.href);
  target.hash = `#/connections?authorized=${encodeURIComponent(connectionId)}`;
  location.replace(target.toString());
}
