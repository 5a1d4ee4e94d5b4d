/**
 * A write's precondition (HTTP If-Match), checked by the data function inside the write's
 * transaction, after it has locked the resource: it gets the resource's current representation,
 * built by the same SQL the resource's read uses (null when the resource does not exist), and
 * throws to refuse the write, which rolls the transaction back. Because the lock is held from the
 * check to the commit, two writers holding the same tag cannot both pass.
 */
export type Precondition = (current: string | object | null) => void;
