'use strict';
/**
 * node scripts/watchdog.js <ownerPid> <pid>...
 *
 * Waits while the owner process lives; when it is gone (killed without a chance to clean up), sends
 * SIGTERM and then SIGKILL to each pid (a negative pid is a process group). Exits as soon as every
 * target is gone. Started detached by scripts/temporal.js and scripts/run.js.
 */
const { pidAlive: alive } = require('./processes.js');

const owner = Number(process.argv[2]);
const targets = process.argv.slice(3).map(Number).filter((n) => Number.isInteger(n) && n !== 0);

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

if (!owner || targets.length === 0) process.exit(2);
// When the owner started us, being reparented also means the owner is gone (even if its pid is reused).
const ownerIsParent = process.ppid === owner;
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => {}); // Ctrl-C in the owner's terminal is the owner's to handle

const timer = setInterval(() => {
  if (targets.every((t) => !alive(t))) process.exit(0);
  if (alive(owner) && (!ownerIsParent || process.ppid === owner)) return;
  clearInterval(timer);
  for (const t of targets) signal(t, 'SIGTERM');
  const deadline = Date.now() + 10000;
  setInterval(() => {
    if (targets.every((t) => !alive(t))) process.exit(0);
    if (Date.now() > deadline) {
      for (const t of targets) signal(t, 'SIGKILL');
      process.exit(0);
    }
  }, 200);
}, 500);
