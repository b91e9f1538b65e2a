// Sketch file names being installed, each with the id installing it. A name is claimed before an
// upload's first await, so two uploads can never both decide that a name is free; the same id may
// claim it again (its second upload then waits for the first on the sketch's lock).

import { ConflictError } from '../errors.js';

export class NameReservations {
  private readonly claims = new Map<string, { id: string; count: number }>();

  /** Who else is installing `name`, if anyone. */
  claimantOtherThan(name: string, id: string): string | undefined {
    const claim = this.claims.get(name);
    return claim && claim.id !== id ? claim.id : undefined;
  }

  /** Claims `name` for `id` until the returned release is called. */
  claim(name: string, id: string): () => void {
    const other = this.claimantOtherThan(name, id);
    if (other !== undefined) throw new ConflictError(`sketch name ${name} is being installed by sketch ${other}`);
    const claim = this.claims.get(name) ?? { id, count: 0 };
    claim.count++;
    this.claims.set(name, claim);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--claim.count === 0) this.claims.delete(name);
    };
  }
}
