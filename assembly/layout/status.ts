/**
 * Status codes returned by every hot-path operation of the core, on both backends. Nothing on
 * the hot path throws: operations return one of these, or (where an address is returned) an
 * address >= ADDRESS_MIN. Any returned value below ADDRESS_MIN is one of these codes.
 */
export const STATUS_OK = 0;
/** Ring: no free record. The message was not taken; the caller still owns it. */
export const STATUS_FULL = 1;
/** Ring: nothing published to read. */
export const STATUS_EMPTY = 2;
/** Ring: the other side closed (consumer closed: pushes refused; producer closed and drained:
 *  nothing more will ever arrive). */
export const STATUS_CLOSED = 3;
/** Router: the table about to be overwritten is still being read; try again later. */
export const STATUS_BUSY = 4;
/** An argument is out of range (id, address, mode): rejected without touching the arena. */
export const STATUS_INVALID = 5;
/** Pool: no free slot (possibly spurious while a concurrent release is mid-flight). */
export const STATUS_EXHAUSTED = 6;
