/**
 * If-None-Match against our ETag, with the weak comparison RFC 9110 prescribes for it. Done by
 * hand because Koa's `fresh` treats a request's `Cache-Control: no-cache` (which fetch adds to
 * every conditional request) as "never fresh", which is a cache's rule, not an origin's.
 */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined || header === '') return false;
  if (header.trim() === '*') return true;
  const opaque = stripWeak(etag);
  for (const candidate of header.split(',')) {
    if (stripWeak(candidate.trim()) === opaque) return true;
  }
  return false;
}

function stripWeak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
