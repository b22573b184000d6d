/** Reading Prometheus text exposition in tests: samples by name and labels. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`. */
export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/**
 * The metric names an exposition declares (`# TYPE`) or has samples of, as a dashboard names them:
 * a histogram's `_bucket`, `_sum` and `_count` series as well as the histogram itself.
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) names.add(name);
  for (const s of parsePrometheus(text)) names.add(s.name);
  for (const name of [...names]) names.add(name.replace(/_(bucket|sum|count)$/, ''));
  return names;
}

export async function scrape(url: string, authorization?: string): Promise<{ status: number; text: string; samples: Sample[] }> {
  const res = await fetch(url, { headers: authorization ? { authorization } : {} });
  const text = await res.text();
  return { status: res.status, text, samples: res.ok ? parsePrometheus(text) : [] };
}
