/**
 * Gossip work taken in turns, one peer at a time, round-robin over the peers that have work waiting.
 *
 * Without it, every RPC read from any peer started its messages' checks at once and a flood's backlog ran in one
 * unbroken run of microtasks: traced in the hostile bench, the victim's event loop was held for 2.5 s while it
 * worked through one peer's burst, and an honest peer's offer (and the REST API) waited behind all of it. Here a
 * peer waits for its turn instead (the caller holds that peer's stream meanwhile, so its backlog stays in its own
 * stream and socket, not in this process), every peer with work waiting gets a turn before any peer gets a second,
 * and the event loop gets a pass (`setImmediate`) between turns, so I/O (other peers' streams, REST) runs in between.
 */
/** Longest a turn is held before it ends by itself. */
const DEFAULT_HOLD_MS = 1_000;

export class FairTurns {
  /** Peers with work waiting, in the order they get their next turn (a Map keeps insertion order). */
  #waiting = new Map<string, (() => void)[]>();
  #busy = false;
  #turns = 0;

  /** Turns granted so far (diagnostics and tests). */
  get turns(): number {
    return this.#turns;
  }

  /** Peers waiting for a turn now. */
  get waitingPeers(): number {
    return this.#waiting.size;
  }

  /**
   * Resolves when it is `peer`'s turn; call the returned function when the work of the turn is done. A turn not
   * given back within `holdAtMostMs` ends by itself, so work that hangs (a validator waiting on something that
   * never comes) holds up only its own peer, never everyone's turns.
   */
  take(peer: string, holdAtMostMs = DEFAULT_HOLD_MS): Promise<() => void> {
    return new Promise((resolve) => {
      const queue = this.#waiting.get(peer);
      const grant = () => {
        const release = this.#release();
        const timer = setTimeout(release, holdAtMostMs);
        timer.unref();
        resolve(() => {
          clearTimeout(timer);
          release();
        });
      };
      if (queue === undefined) this.#waiting.set(peer, [grant]);
      else queue.push(grant);
      if (!this.#busy) this.#next();
    });
  }

  #release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A pass of the event loop before the next turn: I/O that arrived meanwhile (another peer's RPC, a REST
      // request, a timer) runs before the next peer's work starts. Until then no turn starts, not even for a peer
      // asking right now (the same peer's next RPC, already read, asks within the same microtask run).
      setImmediate(() => {
        this.#busy = false;
        this.#next();
      });
    };
  }

  #next(): void {
    const first = this.#waiting.entries().next();
    if (first.done) return;
    const [peer, queue] = first.value;
    const grant = queue.shift()!;
    // The peer goes to the back of the line: every other waiting peer has its turn before its next one.
    this.#waiting.delete(peer);
    if (queue.length > 0) this.#waiting.set(peer, queue);
    this.#busy = true;
    this.#turns++;
    grant();
  }
}
