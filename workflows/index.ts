// What the worker loads: every workflow, one file each.
export { exportRun } from './exportRun';
export { mirrorRemovals } from './mirrorRemovals';
export { refresh } from './refresh';
export { scheduledExportRun } from './scheduledExportRun';
export { webhookDelivery } from './webhookDelivery';
