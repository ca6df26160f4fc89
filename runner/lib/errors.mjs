// How the runner names a thrown value in a log line or an error message: what OpenClaw and Node throw
// is mostly an Error (Node's system errors with a `code` such as ENOENT), but anything may be thrown.

/**
 * A thrown value's `message`, else the value itself as text.
 * @param {unknown} err
 */
export function messageOf(err) {
  return String(/** @type {{ message?: unknown } | null | undefined} */ (err)?.message ?? err);
}

/**
 * A system error's `code` (ENOENT, EACCES, ...), else what messageOf says.
 * @param {unknown} err
 */
export function codeOrMessageOf(err) {
  const code = /** @type {{ code?: unknown } | null | undefined} */ (err)?.code;
  return code === undefined || code === null ? messageOf(err) : String(code);
}
