'use strict';
/** Jest global teardown: stops the Temporal dev server of test/global-setup.js and removes its files. */
const fs = require('node:fs');
const { STATE_KEY } = require('./global-setup.js');

module.exports = async function globalTeardown() {
  const state = globalThis[STATE_KEY];
  if (!state) return;
  globalThis[STATE_KEY] = undefined;
  await state.server.stop();
  fs.rmSync(state.infoFile, { force: true });
  // KEEP_TEST_TEMPORAL=1 keeps the database and the server log for a post-mortem.
  if (state.dir && !process.env.KEEP_TEST_TEMPORAL) fs.rmSync(state.dir, { recursive: true, force: true });
  else if (state.dir) process.stderr.write(`\nTemporal test server files kept in ${state.dir}\n`);
};
