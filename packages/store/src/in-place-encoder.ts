/**
 * lmdb-js's custom encoder contract (decode gets the read buffer and the value's length), used so
 * that a value is handed out in place: a view of lmdb-js's shared read buffer, valid only until
 * the next read of the environment, instead of a copy in an ArrayBuffer of its own (lmdb-js's
 * `binary` encoding allocates one per value, most of a range scan's cost). Whatever reads through
 * it copies out what it keeps before its next read.
 */
export const IN_PLACE_ENCODER = {
  encode: (value: Buffer): Buffer => value,
  decode: (bytes: Buffer, length: number): Buffer => bytes.subarray(0, length),
};
