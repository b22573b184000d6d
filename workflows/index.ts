// What the worker loads: every workflow, one file each.
export { exportRun } from './exportRun';
export { refresh } from './refresh';
export { scheduledExportRun } from './scheduledExportRun';
