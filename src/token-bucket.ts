/**
 * A token bucket on one thread (the classic rate limiter, e.g. RFC 2697's single-rate meter): it
 * holds up to `burst` tokens, earns `rate` tokens per second, and a call spends one. Over any window
 * of T seconds at most burst + rate · T calls get a token.
 *
 * The bucket refills at every take, from the time of the previous take, and never holds more than
 * `burst`: an idle spell credits at most a full bucket, never the tokens the idle time would have
 * earned beyond it. Times are the caller's, in ms (performance.now()), so a test can drive it.
 */
export class TokenBucket {
  /** Tokens earned per ms. */
  private readonly perMs: number;
  private tokens: number;
  private updatedAt: number;

  /** `rate` tokens per second, at most `burst` held; full at `now` (ms). */
  constructor(readonly rate: number, readonly burst: number, now: number) {
    this.perMs = rate / 1000;
    this.tokens = burst;
    this.updatedAt = now;
  }

  /**
   * Spends one token if the bucket holds one at `now` and returns 0; otherwise spends nothing and
   * returns the ms until it will hold one (> 0).
   */
  tryTake(now: number): number {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.updatedAt) * this.perMs);
      this.updatedAt = now;
    }
    // The epsilon absorbs rounding in the refill above: a wait computed below lands on a bucket
    // that holds 0.999…9 tokens, which must count as one, not ask for another 10^-13 ms.
    if (this.tokens >= 1 - 1e-9) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.perMs;
  }
}
