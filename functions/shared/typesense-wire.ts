/** The wire format of Typesense's HTTP API: URLs, headers, id filters, error texts (see typesense.ts). */

/**
 * System errors raised while connecting, before any byte of the request was sent: the request cannot
 * have been applied, so the same call may go to the next node (undici puts them in `cause`).
 */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * A kept-alive connection found dead (the node crashed or restarted): the request may have reached the
 * node, so only an idempotent call goes to the next node after one of these.
 */
const RESET_FAILURES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export function urlOf(
  node: string,
  path: string,
  query: Record<string, string | number | boolean> | undefined,
): string {
  const search = Object.entries(query ?? {})
    .map(([key, value]) => `${encode(key)}=${encode(String(value))}`)
    .join('&');
  return search === '' ? `${node}${path}` : `${node}${path}?${search}`;
}

export function headersOf(
  apiKey: string | undefined,
  contentType: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (apiKey !== undefined) headers['X-TYPESENSE-API-KEY'] = apiKey;
  if (contentType !== undefined) headers['Content-Type'] = contentType;
  return headers;
}

export function mayFailOver(error: unknown, idempotent: boolean): boolean {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (typeof code !== 'string') return false;
  return CONNECT_FAILURES.has(code) || (idempotent && RESET_FAILURES.has(code));
}

/** Whether `id:[`<id>`]` in a filter matches exactly this id and nothing else. */
export function isFilterSafeId(id: string): boolean {
  return id !== '' && id !== '*' && !id.includes('`') && !id.endsWith('\\') && id.trim() === id;
}

/**
 * Groups ids into `id:[`a`,`b`]` filters whose URL-encoded length stays within `maxEncodedLength`.
 * An id too long for any budget still gets a filter of its own.
 */
export function chunkIdFilters(ids: string[], maxEncodedLength: number): string[] {
  const open = 'id:[';
  const close = ']';
  const overhead = encode(open).length + encode(close).length;
  const separator = encode(',').length;
  const filters: string[] = [];
  let current: string[] = [];
  let length = overhead;

  for (const id of ids) {
    const value = `\`${id}\``;
    const valueLength = encode(value).length;
    if (current.length > 0 && length + separator + valueLength > maxEncodedLength) {
      filters.push(`${open}${current.join(',')}${close}`);
      current = [];
      length = overhead;
    }
    length += valueLength + (current.length > 0 ? separator : 0);
    current.push(value);
  }
  if (current.length > 0) filters.push(`${open}${current.join(',')}${close}`);
  return filters;
}

/** encodeURIComponent plus RFC 3986's reserved `!'()*`, so ids like `*` or `a(b)` reach the server verbatim. */
export function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): fall through to a short excerpt.
  }
  const excerpt = text.trim().slice(0, 200);
  return excerpt === '' ? '(empty body)' : excerpt;
}

export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError')
      return `timed out after ${timeoutMs} ms`;
    // undici reports network failures as `TypeError: fetch failed` with the system error as its cause.
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}
