/**
 * Promises of "this node has consumed the stream up to sequence N", kept until the applier
 * reports that far: what a leader waits on before it polls, and a publisher before it answers.
 */
export interface SequenceWaiter {
  /** Resolves once `consumed()` reaches `sequence`. */
  wait(sequence: number): Promise<void>;
  /** The applier consumed up to `sequence`: settles every wait it satisfies. */
  reached(sequence: number): void;
}

export function createSequenceWaiter(consumed: () => number): SequenceWaiter {
  const waiters = new Set<{ sequence: number; resolve: () => void }>();
  return {
    wait: (sequence) =>
      consumed() >= sequence
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.add({ sequence, resolve })),
    reached(sequence) {
      for (const w of waiters) {
        if (w.sequence <= sequence) {
          waiters.delete(w);
          w.resolve();
        }
      }
    },
  };
}
