// Scorers that keep a KV cache between calls share state across calls, so they run one call at a time:
// a call starts when the one before it has settled, whether it succeeded or failed.

export interface SerialQueue {
  /** Runs `task` after every call queued before it has settled; its result or error is returned. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Settles when every call queued so far has settled (for dispose: never free state mid-call). */
  idle(): Promise<void>;
}

export function serialQueue(): SerialQueue {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run(task) {
      const next = queue.then(task, task);
      queue = next.catch(() => {});
      return next;
    },
    async idle() {
      await queue;
    },
  };
}
