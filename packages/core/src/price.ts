/**
 * Zone prices arrive as decimal strings ("20.00"). Only plain non-negative decimals are prices:
 * `Number()` would also accept "", "0x10", "1e3" and " 7 ", none of which the partner means.
 */
const DECIMAL = /^\d{1,15}(\.\d{1,6})?$/;

export function parsePrice(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/**
 * Min and max over an event's zones, folded as zones stream by so that no zone list is ever
 * built. Zones with capacity 0 count too: see docs/semantics.md ("Prices").
 */
export class PriceRange {
  min: number | null = null;
  max: number | null = null;

  add(price: number): void {
    if (this.min === null || price < this.min) this.min = price;
    if (this.max === null || price > this.max) this.max = price;
  }

  reset(): void {
    this.min = null;
    this.max = null;
  }
}
