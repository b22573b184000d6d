/** Constant Contact takes at most 500 contact ids per remove-list-memberships request (and pages 500 contacts). */
export const REMOVAL_BATCH_SIZE = 500;

/** Up to this many unknown contact ids are read one contact at a time; more, and the list is paged. */
export const TARGETED_READS_MAX = 20;
