import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * A workflow interceptor module for tests: every child workflow is started with an execution
 * timeout of 2 seconds, so a test sees what a parent does when its child times out.
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      startChildWorkflowExecution: (input, next) => next({ ...input, options: { ...input.options, workflowExecutionTimeout: '2 seconds' } }),
    },
  ],
});
