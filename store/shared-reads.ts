/**
 * Identical reads asked while one is under way share the next statement instead of each sending
 * its own: a run's page or the list of segments polled by many clients at once costs the database
 * one statement at a time, not one per client. A caller never joins a statement already under way
 * (it may have begun before a write the caller has seen committed); it joins the one that starts
 * when that finishes. So every caller gets rows read after it asked, as if it had asked alone.
 *
 * The rows are shared by the callers of one statement: they must not be changed.
 */
export class SharedReads {
  private readonly queues = new Map<string, Queue>();

  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(key);
    if (!queue) return this.begin(key, load);
    queue.next ??= queue.running.then(settled, settled).then(() => this.begin(key, load));
    return queue.next as Promise<T>;
  }

  /** How many keys have a statement under way (for tests: none once all have settled). */
  get pending(): number {
    return this.queues.size;
  }

  private begin<T>(key: string, load: () => Promise<T>): Promise<T> {
    const running = load();
    const queue: Queue = { running };
    this.queues.set(key, queue);
    const done = () => {
      if (this.queues.get(key) === queue) this.queues.delete(key);
    };
    running.then(done, done);
    return running;
  }
}

interface Queue {
  running: Promise<unknown>;
  /** The statement the callers who came while `running` was under way wait for. */
  next?: Promise<unknown>;
}

const settled = () => undefined;
