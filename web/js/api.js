// Every read and write of the console goes through the same /v1 API as any client. The browser is
// signed in by the session cookie; state-changing requests add the session's CSRF token.

/** The API's root: the console lives at <root>/console/. */
const API_ROOT = new URL('..', document.baseURI);
const CSRF_HEADER = 'x-csrf-token';

let csrfToken = null;
let onSessionEnded = () => {};

export function useSession(session, ended) {
  csrfToken = session?.csrfToken ?? null;
  onSessionEnded = ended;
}

export const apiUrl = (path) => new URL(path.replace(/^\//, ''), API_ROOT).toString();

/** An error answer of the API: `code`, `message` and `details` as the API sent them. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `the API answered ${status}`);
    this.status = status;
    this.code = error.code ?? 'http_error';
    this.details = Array.isArray(error.details) ? error.details : [];
    this.runId = error.runId;
  }
}

function headersFor(method, extra = {}) {
  const headers = { accept: 'application/json', ...extra };
  if (method !== 'GET' && csrfToken) headers[CSRF_HEADER] = csrfToken;
  return headers;
}

async function answer(res, path) {
  if (res.status === 204) return null;
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/console/')) onSessionEnded();
    throw new ApiError(res.status, body);
  }
  return body;
}

/**
 * One request to the API. A 403 csrf_failed means this browser signed in again meanwhile (another
 * tab): the token of the current session is fetched and the request sent once more.
 */
export async function api(method, path, body) {
  try {
    return await send(method, path, body);
  } catch (err) {
    if (err.code !== 'csrf_failed') throw err;
    const session = await send('GET', '/console/session').catch((e) => {
      onSessionEnded();
      throw e;
    });
    csrfToken = session.csrfToken;
    return send(method, path, body);
  }
}

async function send(method, path, body) {
  let res;
  try {
    res = await fetch(apiUrl(path), {
      method,
      credentials: 'same-origin',
      headers: headersFor(method, body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: { code: 'network_error', message: 'the API did not answer; check that it is running' } });
  }
  return answer(res, path);
}

/** Every item of a list endpoint, following nextCursor (at most `maxPages` pages of 500). */
export async function listAll(path, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api('GET', `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...res.items);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return items;
}

async function ndjsonResponse(path) {
  const res = await fetch(apiUrl(path), { credentials: 'same-origin', headers: { accept: 'application/x-ndjson' } });
  if (!res.ok) await answer(res, path);
  return res;
}

/** Saves an NDJSON answer (rejects, suppressions) as a file; an error answer throws ApiError. */
export async function download(path, filename) {
  const blob = await (await ndjsonResponse(path)).blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return blob.size;
}

/** The first `limit` objects of an NDJSON answer and whether more follow (the rest is not read). */
export async function readNdjson(path, limit) {
  const reader = (await ndjsonResponse(path)).body.pipeThrough(new TextDecoderStream()).getReader();
  const items = [];
  let rest = '';
  for (;;) {
    const { value = '', done } = await reader.read();
    const lines = (rest + value).split('\n');
    rest = done ? '' : lines.pop();
    for (const line of lines.filter((l) => l.trim())) {
      if (items.length === limit) {
        await reader.cancel();
        return { items, more: true };
      }
      items.push(JSON.parse(line));
    }
    if (done) return { items, more: false };
  }
}

/** Uploads a file as the request body, reporting progress (fetch cannot report upload progress). */
export function upload(path, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl(path));
    for (const [name, value] of Object.entries(headersFor('POST', { 'content-type': contentType }))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, { error: { code: 'network_error', message: 'the upload was interrupted' } }));
    xhr.onload = () => {
      const res = new Response(xhr.responseText || null, { status: xhr.status === 204 ? 200 : xhr.status });
      answer(res, path).then(resolve, reject);
    };
    xhr.send(file);
  });
}

/**
 * What this API offers, from its OpenAPI document: which roles may call a route, so that the
 * console shows no control the user cannot use.
 */
export async function loadCapabilities(role) {
  let doc = null;
  try {
    doc = await api('GET', '/v1/openapi.json');
  } catch {
    /* without the document every control stays visible; the API still decides */
  }
  return {
    role,
    can(method, path) {
      if (!doc) return true;
      const op = doc.paths?.[path]?.[method.toLowerCase()];
      return Boolean(op) && (!op['x-roles'] || op['x-roles'].includes(role));
    },
  };
}
