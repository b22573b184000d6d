'use strict';
/**
 * What the scripts print: their own messages, and the output of the children of `npm start`, one
 * line at a time with the child's name in front; pino JSON lines become "LEVEL msg {rest}".
 */
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (useColor ? `\x1b[1m${s}\x1b[0m` : s);

function say(msg) {
  process.stdout.write(`${msg}\n`);
}
function warn(msg) {
  process.stderr.write(`[run] ${msg}\n`);
}

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One line of a child's output for the terminal; pino JSON becomes "LEVEL msg {rest}". */
function formatLine(name, line) {
  let text = line;
  if (line.startsWith('{')) {
    try {
      const o = JSON.parse(line);
      if (o && typeof o === 'object' && 'msg' in o) {
        const { level, time, pid, hostname, msg, ...rest } = o;
        void time;
        void pid;
        void hostname;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        text = `${[LEVELS[level] ?? level, msg].filter((p) => p !== undefined && p !== '').join(' ')}${extra}`;
      }
    } catch {
      /* not JSON after all */
    }
  }
  return `${name.padEnd(8)}| ${text}`;
}

/** Writes each line of `stream` to `out`, formatted by formatLine. */
function pipeLines(stream, name, out) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      out.write(`${formatLine(name, line)}\n`);
    }
  });
  stream.on('end', () => {
    if (buf) out.write(`${formatLine(name, buf)}\n`);
  });
}

module.exports = { bold, say, warn, formatLine, pipeLines };
