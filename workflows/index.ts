// What the worker loads: every workflow, one file each.
export {};
